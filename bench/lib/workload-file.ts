/**
 * The generated workload as an NDJSON file (one raw body per line, arrival order), and a fast
 * reader of its lines as byte slices. Every contender of a benchmark reads the same file the
 * same way, so reading costs the same on each side of a comparison.
 */
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { generateDeliveries } from '../../src/workload/generator.js';
import { BODY_PROFILES, type BodyProfile } from './bodies.js';

export interface WorkloadFile {
  readonly path: string;
  readonly events: number;
  /** Bytes of the bodies (line endings excluded). */
  readonly bytes: number;
  /** Distinct event ids (events minus re-deliveries). */
  readonly distinct: number;
}

/** Writes `events` deliveries for `seed` to `<dir>/workload-<events>-<seed>-<bodies>.ndjson` (streamed). */
export async function writeWorkloadFile(
  dir: string,
  events: number,
  seed: number,
  bodies: BodyProfile = BODY_PROFILES[1]!,
): Promise<WorkloadFile> {
  const path = join(dir, `workload-${events}-${seed}-${bodies.name}.ndjson`);
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let bytes = 0;
  let distinct = 0;
  for (const d of generateDeliveries({
    events,
    seed,
    maxRecordsPerPage: bodies.maxRecordsPerPage,
  })) {
    const line = `${d.body}\n`;
    bytes += Buffer.byteLength(d.body);
    if (!d.duplicate) distinct++;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { path, events, bytes, distinct };
}

/**
 * The file's lines as byte slices without their line ending, in chunks of lines (a chunk per
 * 4 MiB read). A slice is only valid until the next chunk: copy what must outlive it.
 */
export async function* readLines(path: string): AsyncGenerator<Buffer[]> {
  const file = await open(path, 'r');
  try {
    let carry = Buffer.alloc(0);
    const chunk = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      const data =
        carry.length > 0
          ? Buffer.concat([carry, chunk.subarray(0, bytesRead)])
          : Buffer.from(chunk.subarray(0, bytesRead));
      const lines: Buffer[] = [];
      let start = 0;
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        if (nl > start) lines.push(data.subarray(start, nl));
        start = nl + 1;
      }
      carry = data.subarray(start);
      if (lines.length > 0) yield lines;
    }
    if (carry.length > 0) yield [carry];
  } finally {
    await file.close();
  }
}
