/**
 * Test helpers for the dashboard in a real browser: Debian's Chromium driven by playwright-core.
 * Each launch gets a fresh, temporary profile (playwright's default for `launch`), so no cookie
 * or cache survives between runs.
 */
import type { Page } from 'playwright-core';
import { CHROMIUM } from '../../bench/lib/chromium.js';

export { CHROMIUM, chromiumAvailable, launchChromium } from '../../bench/lib/chromium.js';
export const NO_CHROMIUM = `NOT RUN: no Chromium at ${CHROMIUM} (install it: apt-get install chromium)`;

/**
 * Everything that went wrong in a page: console errors, uncaught exceptions, requests that
 * failed, and responses of 400 or more. A test names the few it expects (`expect`), each taken
 * once; `unexpected()` is the rest.
 */
export interface PageWatch {
  readonly seen: string[];
  expect(pattern: RegExp): void;
  unexpected(): string[];
  stop(): void;
}

export function watchPage(page: Page): PageWatch {
  const seen: string[] = [];
  const expected: RegExp[] = [];
  const onConsole = (message: { type(): string; text(): string }) => {
    if (message.type() === 'error') seen.push(`console error: ${message.text()}`);
  };
  const onError = (error: Error) => seen.push(`page error: ${error.message}`);
  const onFailed = (request: {
    method(): string;
    url(): string;
    failure(): { errorText: string } | null;
  }) =>
    seen.push(
      `request failed: ${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`,
    );
  const onResponse = (response: {
    status(): number;
    url(): string;
    request(): { method(): string };
  }) => {
    if (response.status() >= 400)
      seen.push(`response ${response.status()}: ${response.request().method()} ${response.url()}`);
  };
  page.on('console', onConsole);
  page.on('pageerror', onError);
  page.on('requestfailed', onFailed);
  page.on('response', onResponse);
  return {
    seen,
    expect: (pattern) => expected.push(pattern),
    unexpected: () => {
      const rest = [...seen];
      for (const pattern of expected) {
        const at = rest.findIndex((line) => pattern.test(line));
        if (at >= 0) rest.splice(at, 1);
      }
      return rest;
    },
    stop: () => {
      page.off('console', onConsole);
      page.off('pageerror', onError);
      page.off('requestfailed', onFailed);
      page.off('response', onResponse);
    },
  };
}
