/**
 * A worker thread of the import's parse pool (parse-pool.ts): parses the lines of each message
 * with `parseWebhook` and answers with each event's fields but the body, which the main thread
 * already holds (sending it back would copy every byte a second time), its facts already the
 * JSON text they are stored as.
 */
import { parentPort } from 'node:worker_threads';
import { parseWebhook } from '../truto/parse.js';
import { pushFields, type ParseRequest, type ParseResponse, type Refusal } from './parse-pool.js';

parentPort?.on('message', (request: ParseRequest) => {
  const bytes = new Uint8Array(request.buffer);
  const refusals: (Refusal | null)[] = [];
  const fields: unknown[] = [];
  let start = 0;
  for (const end of request.ends) {
    const parsed = parseWebhook(bytes.subarray(start, end));
    if (parsed.ok) {
      pushFields(fields, parsed.event);
      refusals.push(null);
    } else refusals.push(parsed);
    start = end;
  }
  const response: ParseResponse = { id: request.id, refusals, fields };
  parentPort?.postMessage(response);
});
