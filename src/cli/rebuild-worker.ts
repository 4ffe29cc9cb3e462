/** The rebuild thread of `truto-state rebuild` (rebuild-thread.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import {
  failureOf,
  rebuildProjections,
  type RebuildMessage,
  type RebuildRequest,
} from './rebuild-thread.js';

const post = (message: RebuildMessage) => parentPort?.postMessage(message);

rebuildProjections(workerData as RebuildRequest, (progress) =>
  post({ kind: 'progress', progress }),
).then(
  (report) => post({ kind: 'done', report }),
  (error: unknown) => post(failureOf(error)),
);
