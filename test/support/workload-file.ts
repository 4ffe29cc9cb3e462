/** Writes a generated Truto workload as an NDJSON file of raw bodies, one per line. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { generateDeliveries, type WorkloadOptions } from '../../src/workload/generator.js';

export async function writeWorkload(
  path: string,
  options: WorkloadOptions,
): Promise<{ lines: number; distinct: number }> {
  const out = createWriteStream(path);
  const ids = new Set<string>();
  let lines = 0;
  for (const delivery of generateDeliveries(options)) {
    ids.add(delivery.id);
    lines++;
    if (!out.write(`${delivery.body}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { lines, distinct: ids.size };
}
