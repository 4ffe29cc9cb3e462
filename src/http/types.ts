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

/** One message of a streamed response: its text as written, and its resume id if it has one. */
export interface StreamMessage {
  readonly id?: string;
  readonly text: string;
}

/**
 * A streamed response (server-sent events). `open()` gives the messages from the start;
 * `open(lastId)` the messages after the one with `lastId`. The bridge stops reading from the
 * source while a client's buffer is full and reopens it from the last id once the client has
 * drained, so a burst (a long journal replay) never piles up in memory; it also adds heartbeats,
 * cuts off a client that does not drain in time, and unsubscribes when the client goes away.
 * Completion or error ends the response.
 */
export interface StreamResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  open(after?: string): Observable<StreamMessage>;
}

export type HttpResponse = BufferedResponse | StreamResponse;

export function isStreamResponse(response: HttpResponse): response is StreamResponse {
  return 'open' in response;
}

/** A JSON response. */
export function json(
  status: number,
  value: unknown,
  headers: Readonly<Record<string, string>> = {},
): BufferedResponse {
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
