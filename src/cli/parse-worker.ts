/**
 * A worker thread of the import's parse pool (parse-pool.ts): parses the lines of each message
 * with `parseWebhook` and answers with every result but the bodies, which the main thread
 * already holds (sending them back would copy every byte a second time).
 */
import { parentPort } from 'node:worker_threads';
import { parseWebhook } from '../truto/parse.js';
import type { ParseRequest, ParseResponse, ParsedWithoutBody } from './parse-pool.js';

parentPort?.on('message', (request: ParseRequest) => {
  const bytes = new Uint8Array(request.buffer);
  const results: ParsedWithoutBody[] = [];
  let start = 0;
  for (const end of request.ends) {
    const parsed = parseWebhook(bytes.subarray(start, end));
    if (parsed.ok) {
      // Every field but the body: a field added to events travels without a change here.
      const { body, ...event } = parsed.event;
      results.push({ ok: true, event });
    } else results.push(parsed);
    start = end;
  }
  const response: ParseResponse = { id: request.id, results };
  parentPort?.postMessage(response);
});
