/**
 * `GET /changes`: committed state changes as server-sent events.
 *
 * Each message is `id: <seq>`, `event: change`, `data: <the change as JSON>`. A message
 * `event: reset` tells the client to reload state instead of applying changes: after a rebuild
 * swapped a projection in (`data: {"kind":"reset","projection":…,"reason":"rebuilt"}`), or when
 * its resume point is no longer covered by the journal (`"reason":"journal_gap"`, with the oldest
 * and latest seq kept; the stream then goes on live from the latest). Filters:
 * `projection` (repeatable, or a comma list) and `key`. Resuming: a client that reconnects with
 * `Last-Event-ID: <seq>` (or `?since=<seq>`) gets every change after that seq from the engine's
 * journal and then live ones, without a gap or a repeat (`engine.changesSince`). Without either,
 * the stream starts live.
 *
 * Slow clients: when more than `sseMaxBufferedBytes` wait in a client's socket buffer, the bridge
 * unsubscribes and resumes from the last sent seq once the client has drained (so a long replay
 * to a slow reader never piles up in memory). A client that does not drain within
 * `sseDrainTimeoutMs` is cut off; it resumes with Last-Event-ID (EventSource does so by itself)
 * from the journal, losing nothing while the journal retains it.
 */
import type { Observable } from 'rxjs';
import { catchError, concat, filter, map, of, startWith, throwError } from '../engine/rx.js';
import type { EngineChange } from '../engine/change-hub.js';
import { JournalGapError } from '../engine/errors.js';
import type { TrutoEngine } from '../truto/engine.js';
import { errorResponse } from './errors.js';
import { header, type HttpRequest, type HttpResponse, type StreamMessage } from './types.js';

/** Sent first: tells EventSource how long to wait before reconnecting, and that we are live. */
const PREAMBLE = 'retry: 2000\n: connected\n\n';

/**
 * @example
 * const response = changesHandler(engine)(request); // StreamResponse of SSE text frames
 */
export function changesHandler(engine: TrutoEngine): (request: HttpRequest) => HttpResponse {
  return (request) => {
    const projections = new Set(
      request.query
        .getAll('projection')
        .flatMap((p) => p.split(','))
        .map((p) => p.trim())
        .filter((p) => p !== ''),
    );
    const known: readonly string[] = engine.projectionNames;
    const unknown = [...projections].filter((p) => !known.includes(p));
    if (unknown.length > 0) {
      return errorResponse(
        'bad_request',
        `unknown projection ${unknown.join(', ')}; known: ${engine.projectionNames.join(', ')}`,
      );
    }
    const key = request.query.get('key');
    const resumeFrom = header(request, 'last-event-id') ?? request.query.get('since') ?? undefined;
    if (resumeFrom !== undefined && !/^\d+$/.test(resumeFrom)) {
      return errorResponse(
        'bad_request',
        'Last-Event-ID / since must be a change seq (a non-negative integer)',
      );
    }
    const matches = (change: EngineChange): boolean =>
      (projections.size === 0 || projections.has(change.projection)) &&
      (key === null || change.kind === 'reset' || change.key === key);
    return {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // Proxies such as nginx would otherwise buffer the stream.
        'x-accel-buffering': 'no',
      },
      open: (after) => {
        const toMessages = (changes: Observable<EngineChange>) =>
          changes.pipe(
            filter(matches),
            map((change): StreamMessage => ({
              id: String(change.seq),
              text: formatChange(change),
            })),
          );
        const resume = after ?? resumeFrom;
        const messages =
          resume === undefined
            ? toMessages(engine.changes$)
            : resumed(Number(resume), (seq) => toMessages(engine.changesSince(seq)));
        // The preamble goes out once, on the first open, before any change.
        return after === undefined
          ? messages.pipe(startWith<StreamMessage>({ text: PREAMBLE }))
          : messages;
      },
    };
  };
}

/**
 * Messages after `seq`. A resume point the journal no longer covers is never a silent gap: the
 * client gets a reset (reload state), then the changes after the journal's latest seq.
 */
function resumed(
  seq: number,
  since: (seq: number) => Observable<StreamMessage>,
): Observable<StreamMessage> {
  return since(seq).pipe(
    catchError((error: unknown) => {
      if (!(error instanceof JournalGapError)) return throwError(() => error);
      const reset = {
        kind: 'reset',
        reason: 'journal_gap',
        requestedSeq: error.requestedSeq,
        oldestSeq: error.oldestSeq,
        latestSeq: error.latestSeq,
        message: error.message,
      };
      const id = String(error.latestSeq);
      return concat(
        of({ id, text: `id: ${id}\nevent: reset\ndata: ${JSON.stringify(reset)}\n\n` }),
        resumed(error.latestSeq, since),
      );
    }),
  );
}

/**
 * Messages already written, by change: the engine hands every live subscriber the same change
 * object, so each change is serialised once however many clients stream it (a state can be
 * large, and 1,000 clients meant 1,000 JSON.stringify calls per change). Weak: an entry goes
 * with its change once no subscriber holds it.
 */
const formatted = new WeakMap<EngineChange, string>();

/** One change as an SSE message (JSON never contains a raw newline, so one `data:` line). */
export function formatChange(change: EngineChange): string {
  let text = formatted.get(change);
  if (text === undefined) {
    text = `id: ${change.seq}\nevent: ${change.kind}\ndata: ${JSON.stringify(change)}\n\n`;
    formatted.set(change, text);
  }
  return text;
}
