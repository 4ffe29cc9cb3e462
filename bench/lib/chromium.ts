/**
 * Debian's Chromium driven by playwright-core, for the dashboard benchmark and the browser tests:
 * one path and one set of flags (no sandbox when root, nothing that reaches for the closed
 * network). Each launch gets a fresh temporary profile (playwright's default for `launch`).
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/** playwright-core is loaded here only, so nothing else pays for the browser driver. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}
