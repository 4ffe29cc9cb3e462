/**
 * A steady sender: calls `send(i)` for i = 0..count-1 at `perSecond` on average, on schedule
 * (a late tick sends what is due, so the rate holds even when a tick slips), without waiting
 * for the sends to finish (an open-loop load, as webhooks arrive).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export async function pace(
  perSecond: number,
  count: number,
  send: (i: number) => void,
): Promise<void> {
  const start = performance.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - start) * perSecond) / 1000) + 1);
    while (sent < due) send(sent++);
    await sleep(1);
  }
}
