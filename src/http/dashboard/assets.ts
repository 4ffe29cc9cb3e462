/**
 * The dashboard's built files (`npm run build` writes them to `dist/ui`): `index.html` and the
 * content-hashed scripts and styles under `assets/`. Read once, served from memory.
 *
 * Caching: hashed assets never change under their name, so they are `immutable` for a year; the
 * page itself is revalidated every time (`no-cache` with an ETag), so a new build is picked up at
 * once. The page's Content-Security-Policy allows scripts, styles and connections from this
 * origin only: no inline script or style, no CDN, nothing framed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { header, type BufferedResponse, type HttpRequest } from '../types.js';

/** Where `npm run build` puts the dashboard: `dist/ui`, next to `dist/src`. */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../../../ui/', import.meta.url));

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

export interface Assets {
  /** `GET /`: the page, or a plain explanation when the dashboard was not built. */
  page(request: HttpRequest): BufferedResponse;
  /** `GET /assets/<name>`, or `undefined` when there is no such file. */
  asset(request: HttpRequest, name: string): BufferedResponse | undefined;
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * @example
 * const assets = loadAssets(DEFAULT_ASSETS_DIR);
 * assets.page(request); // 200 text/html with the CSP
 */
export function loadAssets(dir: string): Assets {
  const page = read(join(dir, 'index.html'));
  const files = new Map<string, Asset>();
  const assetsDir = join(dir, 'assets');
  if (existsSync(assetsDir)) {
    for (const name of readdirSync(assetsDir)) files.set(name, read(join(assetsDir, name))!);
  }
  return {
    page: (request) => {
      if (!page) {
        return {
          status: 503,
          headers: { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS },
          body: 'The dashboard is not built: run `npm run build`.\n',
        };
      }
      return respond(request, page, {
        'cache-control': 'no-cache',
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-frame-options': 'DENY',
      });
    },
    asset: (request, name) => {
      const file = files.get(name);
      return file
        ? respond(request, file, { 'cache-control': 'public, max-age=31536000, immutable' })
        : undefined;
    },
  };
}

function read(path: string): Asset | undefined {
  if (!existsSync(path)) return undefined;
  const body = readFileSync(path);
  return {
    body,
    type: TYPES[extname(path)] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

function respond(
  request: HttpRequest,
  asset: Asset,
  headers: Record<string, string>,
): BufferedResponse {
  const all = { ...SECURITY_HEADERS, ...headers, etag: asset.etag };
  if (header(request, 'if-none-match') === asset.etag) return { status: 304, headers: all };
  return { status: 200, headers: { 'content-type': asset.type, ...all }, body: asset.body };
}
