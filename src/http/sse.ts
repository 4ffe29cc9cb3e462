/**
 * `GET /changes`: committed state changes as server-sent events.
 *
 * Each message is `id: <seq>`, `event: change`, `data: <the change as JSON>`. Filters:
 * `projection` (repeatable, or a comma list) and `key`. Resuming: a client that reconnects with
 * `Last-Event-ID: <seq>` (or `?since=<seq>`) gets every change after that seq from the engine's
 * journal and then live ones, without a gap or a repeat (`engine.changesSince`). Without either,
 * the stream starts live.
 *
 * Slow clients: the bridge lets at most `maxBufferedBytes` wait in a client's socket buffer; past
 * that the client is cut off rather than buffered without bound. It resumes with Last-Event-ID
 * (EventSource does so by itself), from the journal, losing nothing while the journal retains it.
 */
import { filter, map, startWith, type Observable } from 'rxjs';
import type { Change, Engine } from '../engine/types.js';
import { errorResponse } from './errors.js';
import { header, type HttpRequest, type HttpResponse } from './types.js';

/** Sent first: tells EventSource how long to wait before reconnecting, and that we are live. */
const PREAMBLE = 'retry: 2000\n: connected\n\n';

/**
 * @example
 * const response = changesHandler(engine)(request); // StreamResponse of SSE text frames
 */
export function changesHandler(engine: Engine): (request: HttpRequest) => HttpResponse {
  return (request) => {
    const projections = new Set(
      request.query
        .getAll('projection')
        .flatMap((p) => p.split(','))
        .map((p) => p.trim())
        .filter((p) => p !== ''),
    );
    const unknown = [...projections].filter((p) => !engine.projectionNames.includes(p));
    if (unknown.length > 0) {
      return errorResponse('bad_request', `unknown projection ${unknown.join(', ')}; known: ${engine.projectionNames.join(', ')}`);
    }
    const key = request.query.get('key');
    const resumeFrom = header(request, 'last-event-id') ?? request.query.get('since') ?? undefined;
    if (resumeFrom !== undefined && !/^\d+$/.test(resumeFrom)) {
      return errorResponse('bad_request', 'Last-Event-ID / since must be a change seq (a non-negative integer)');
    }
    const source: Observable<Change> =
      resumeFrom === undefined ? engine.changes$ : engine.changesSince(Number(resumeFrom));
    const messages = source.pipe(
      filter((change) => (projections.size === 0 || projections.has(change.projection)) && (key === null || change.key === key)),
      map(formatChange),
      // Emitted on subscribe, before any change: the client knows it is connected and live.
      startWith(PREAMBLE),
    );
    return {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // Proxies such as nginx would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      },
      stream: messages,
    };
  };
}

/** One change as an SSE message (JSON never contains a raw newline, so one `data:` line). */
export function formatChange(change: Change): string {
  return `id: ${change.seq}\nevent: change\ndata: ${JSON.stringify(change)}\n\n`;
}
