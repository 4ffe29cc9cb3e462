/**
 * The framework-free HTTP shapes: handlers are `(HttpRequest) => Promise<HttpResponse>`, tested
 * without opening a port; `server.ts` is the only file that knows about `node:http`.
 */
import type { Observable } from 'rxjs';

export type HeaderValue = string | readonly string[] | undefined;

export interface HttpRequest {
  readonly method: string;
  /** The URL path, without the query string (not decoded). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-cased names, as node:http gives them. */
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** The raw body, for routes that read one (the webhook). */
  readonly body?: Uint8Array;
}

/** A complete response. */
export interface BufferedResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
}

/**
 * A streamed response (server-sent events): every string `messages` emits is written as is.
 * The bridge adds heartbeats, cuts off a client that does not keep up, and unsubscribes when the
 * client goes away; completion or error of `messages` ends the response.
 */
export interface StreamResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly stream: Observable<string>;
}

export type HttpResponse = BufferedResponse | StreamResponse;

export function isStreamResponse(response: HttpResponse): response is StreamResponse {
  return 'stream' in response;
}

/** A JSON response. */
export function json(status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): BufferedResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

/** The one header value of a request, or `undefined` when missing or repeated. */
export function header(request: HttpRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}
