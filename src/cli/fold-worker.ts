/** The fold thread of `truto-state rebuild` and `truto-state verify` (fold-thread.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { failureOf, fold, type FoldMessage, type FoldRequest } from './fold-thread.js';

const post = (message: FoldMessage) => parentPort?.postMessage(message);

fold(workerData as FoldRequest, (progress) => post({ kind: 'progress', progress })).then(
  (result) => post({ kind: 'done', result }),
  (error: unknown) => post(failureOf(error)),
);
