/** A small server-sent-events client over node:http, for tests: frames are awaited, not polled. */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';

export interface SseFrame {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  /** Comment lines (`: heartbeat`). */
  readonly comments: readonly string[];
}

export interface SseClient {
  readonly status: number;
  readonly response: IncomingMessage;
  /** Frames received so far. */
  readonly frames: SseFrame[];
  /** Resolves with the first frame (already received or to come) matching, counting from `from`. */
  waitFor(match: (frame: SseFrame) => boolean, from?: number): Promise<SseFrame>;
  /** Resolves when the server ends or drops the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/**
 * @example
 * const client = await connectSse(`${url}/changes?projection=accounts`);
 * await client.waitFor((f) => f.comments.includes(' connected'));
 */
export function connectSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request(url, {
      headers: { accept: 'text/event-stream', ...headers },
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const frames: SseFrame[] = [];
      const waiters: {
        match: (f: SseFrame) => boolean;
        from: number;
        resolve: (f: SseFrame) => void;
      }[] = [];
      let buffer = '';
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      });
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        buffer += text;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const frame: { id?: string; event?: string; data?: string; comments: string[] } = {
            comments: [],
          };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) frame.comments.push(line.slice(1));
            else if (line.startsWith('id: ')) frame.id = line.slice(4);
            else if (line.startsWith('event: ')) frame.event = line.slice(7);
            else if (line.startsWith('data: '))
              frame.data = (frame.data === undefined ? '' : `${frame.data}\n`) + line.slice(6);
          }
          frames.push(frame);
          for (const waiter of [...waiters]) {
            if (frames.length - 1 >= waiter.from && waiter.match(frame)) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.resolve(frame);
            }
          }
        }
      });
      resolve({
        status: res.statusCode ?? 0,
        response: res,
        frames,
        ended,
        waitFor: (match, from = 0) => {
          const found = frames.slice(from).find(match);
          if (found) return Promise.resolve(found);
          return new Promise((done, fail) => {
            waiters.push({ match, from, resolve: done });
            void ended.then(() =>
              fail(new Error(`stream ended before the awaited frame (${frames.length} frames)`)),
            );
          });
        },
        close: () => {
          res.destroy();
          req.destroy();
        },
      });
    });
    req.end();
  });
}

/** The changes among frames (`event: change`), parsed. */
export function changesIn(
  frames: readonly SseFrame[],
): { seq: number; id: string; projection: string; key: string; eventId: string }[] {
  return frames
    .filter((f) => f.event === 'change' && f.data !== undefined)
    .map((f) => {
      const change = JSON.parse(f.data as string) as {
        seq: number;
        projection: string;
        key: string;
        eventId: string;
      };
      return { ...change, id: f.id ?? '' };
    });
}
