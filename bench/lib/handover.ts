/**
 * Lease handover, read straight from the shared database: which instance owns each partition
 * (`truto_state.leases`: partition, owner, epoch, expires_at), how far each partition's
 * checkpoints (`truto_state.checkpoints` rows with `part` = n, named `<projection>#p<n>` here)
 * stand behind the log's head, and a steady open-loop webhook load to keep the head moving while
 * an instance dies.
 *
 * "Caught up" for a partition means: every one of its checkpoints is at or past the head seen at
 * the previous poll (one poll interval earlier). Under a steady load the head never stops, so
 * "lag exactly 0 at one instant" would measure the poll's luck; the same criterion is first
 * required of every partition before the kill, so it is known to hold in steady state.
 */
import type { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { post, type SignedBody } from './http-client.js';

export interface Snapshot {
  /** When the poll was sent (performance.now()). */
  readonly at: number;
  readonly head: number;
  /** partition -> pid of the instance holding an unexpired lease (undefined: nobody). */
  readonly owners: Map<number, number | undefined>;
  /** `<projection>#p<n>` -> position. */
  readonly checkpoints: Map<string, number>;
}

/** serve's instance ids are `<hostname>-<pid>-<8 hex>` (src/cli/backend.ts). */
export function ownerPid(owner: string | null): number | undefined {
  const match = owner === null ? null : /-(\d+)-[0-9a-f]{8}$/.exec(owner);
  return match ? Number(match[1]) : undefined;
}

export async function snapshot(client: pg.Client): Promise<Snapshot> {
  const at = performance.now();
  const { rows } = await client.query<{
    head: string;
    leases: { p: number; o: string | null; live: boolean }[] | null;
    checkpoints: { n: string; pos: number }[] | null;
  }>(`SELECT
        (SELECT coalesce(max(position), 0) FROM truto_state.events) AS head,
        (SELECT json_agg(json_build_object('p', partition, 'o', owner, 'live', expires_at > now()))
           FROM truto_state.leases) AS leases,
        (SELECT json_agg(json_build_object('n', name || '#p' || part, 'pos', position))
           FROM truto_state.checkpoints WHERE part >= 0) AS checkpoints`);
  const row = rows[0]!;
  const owners = new Map<number, number | undefined>();
  for (const lease of row.leases ?? [])
    owners.set(lease.p, lease.live ? ownerPid(lease.o) : undefined);
  const checkpoints = new Map<string, number>();
  for (const c of row.checkpoints ?? []) checkpoints.set(c.n, Number(c.pos));
  return { at, head: Number(row.head), owners, checkpoints };
}

/** The projections that keep per-partition checkpoints (`name#p<n>` → `name`). */
export function partitionedProjections(s: Snapshot): string[] {
  return [...new Set([...s.checkpoints.keys()].map((n) => n.replace(/#p\d+$/, '')))].sort();
}

/** The lowest checkpoint of `partition` over `projections` (0 for a missing row). */
export function partitionPosition(
  s: Snapshot,
  partition: number,
  projections: readonly string[],
): number {
  let min = Number.POSITIVE_INFINITY;
  for (const name of projections)
    min = Math.min(min, s.checkpoints.get(`${name}#p${partition}`) ?? 0);
  return Number.isFinite(min) ? min : 0;
}

/** Polls until every partition is held by one of `pids`, each holding its fair share. */
export async function waitBalanced(
  client: pg.Client,
  pids: readonly number[],
  timeoutMs = 30_000,
): Promise<Snapshot> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = await snapshot(client);
    const holders = [...s.owners.values()];
    // Settled: every partition held by one of them, each holding its fair share (rounded down).
    const share = Math.floor(holders.length / pids.length);
    if (
      holders.length > 0 &&
      holders.every((pid) => pid !== undefined && pids.includes(pid)) &&
      pids.every((pid) => holders.filter((h) => h === pid).length >= share)
    )
      return s;
    if (performance.now() > deadline)
      throw new Error(`leases not spread over ${pids.length} instances after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export interface Handover {
  /** The partitions the killed instance held. */
  readonly partitions: number[];
  /** Seconds from SIGKILL until each of them had a live owner again. */
  readonly ownedSeconds: number;
  /** Seconds from SIGKILL until each of them was caught up (see the file comment). */
  readonly caughtUpSeconds: number;
  /** How many events the furthest-behind of them had yet to project when taken over. */
  readonly behindAtTakeover: number;
  /** Seconds before the kill that every partition was first seen caught up (steady state). */
  readonly steadyWaitSeconds: number;
}

function caughtUp(
  s: Snapshot,
  previousHead: number,
  partitions: Iterable<number>,
  projections: readonly string[],
): boolean {
  for (const p of partitions) if (partitionPosition(s, p, projections) < previousHead) return false;
  return true;
}

/**
 * Waits for steady state (every partition caught up), kills the instance `victimPid` with
 * `kill()`, then polls every `pollMs` until its partitions are owned again and caught up.
 */
export async function measureHandover(
  client: pg.Client,
  victimPid: number,
  kill: () => void,
  { pollMs = 50, timeoutMs = 60_000 } = {},
): Promise<Handover> {
  let previous = await snapshot(client);
  const steadyStart = performance.now();
  for (;;) {
    await sleep(pollMs);
    const s = await snapshot(client);
    const projections = partitionedProjections(s);
    if (projections.length > 0 && caughtUp(s, previous.head, s.owners.keys(), projections)) {
      previous = s;
      break;
    }
    if (performance.now() - steadyStart > timeoutMs)
      throw new Error(
        'partitions never all caught up before the kill: the load is too heavy for steady state',
      );
    previous = s;
  }
  const steadyWaitSeconds = (performance.now() - steadyStart) / 1000;
  const projections = partitionedProjections(previous);
  const partitions = [...previous.owners]
    .filter(([, pid]) => pid === victimPid)
    .map(([p]) => p)
    .sort((a, b) => a - b);
  if (partitions.length === 0) throw new Error(`instance ${victimPid} held no partition`);

  const killedAt = performance.now();
  kill();
  let ownedAt: number | undefined;
  let behindAtTakeover = 0;
  for (;;) {
    await sleep(pollMs);
    const s = await snapshot(client);
    if (
      ownedAt === undefined &&
      partitions.every((p) => {
        const pid = s.owners.get(p);
        return pid !== undefined && pid !== victimPid;
      })
    ) {
      ownedAt = s.at;
      // Events, not positions: PostgreSQL numbers positions by transaction, with gaps.
      const lowest = Math.min(...partitions.map((p) => partitionPosition(s, p, projections)));
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM truto_state.events WHERE position > $1 AND position <= $2',
        [lowest, s.head],
      );
      behindAtTakeover = rows[0]?.n ?? 0;
    }
    if (ownedAt !== undefined && caughtUp(s, previous.head, partitions, projections)) {
      return {
        partitions,
        ownedSeconds: (ownedAt - killedAt) / 1000,
        caughtUpSeconds: (s.at - killedAt) / 1000,
        behindAtTakeover,
        steadyWaitSeconds,
      };
    }
    if (performance.now() - killedAt > timeoutMs)
      throw new Error(
        `partitions ${partitions.join(',')} of the killed instance ${ownedAt === undefined ? 'not owned again' : 'not caught up'} after ${timeoutMs} ms`,
      );
    previous = s;
  }
}

export interface SteadyLoad {
  /** Stops sending, waits for the requests in flight; statuses (0 = transport error). */
  stop(): Promise<{ sent: number; statuses: Map<number, number> }>;
}

/**
 * An open-loop load at `perSecond`: request i goes to `targets()[i % n]`, the targets asked anew
 * each time (so a dead instance can be taken out of the rotation). Cycles over `items`.
 */
export function steadyLoad(
  agent: Agent,
  targets: () => readonly URL[],
  items: readonly SignedBody[],
  perSecond: number,
): SteadyLoad {
  const statuses = new Map<number, number>();
  const pending = new Set<Promise<void>>();
  let stopped = false;
  let sent = 0;
  const start = performance.now();
  const loop = (async () => {
    while (!stopped) {
      const due = Math.floor(((performance.now() - start) * perSecond) / 1000) + 1;
      while (sent < due && !stopped) {
        const urls = targets();
        const item = items[sent % items.length]!;
        const url = urls[sent % urls.length]!;
        sent++;
        const request: Promise<void> = post(agent, url, item).then((r) => {
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          pending.delete(request);
        });
        pending.add(request);
      }
      await sleep(1);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(pending);
      return { sent, statuses };
    },
  };
}
