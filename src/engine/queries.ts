/**
 * Reads of projected state: one entity, pages, counts, derived groups, and time travel (an
 * entity's state as of a source time or log position, folded from its stream). Aggregates are
 * stored rows like stream projections' and read the same way.
 */
import type {
  EventStore,
  ListOptions,
  ProjectionStore,
  StateFilter,
  StateRow,
} from '../store/port.js';
import type { EventCodec } from './codec.js';
import { EngineError } from './errors.js';
import { toProjectionEvent, withBodiesForStaleFacts } from './event-view.js';
import { foldInOrder } from './fold.js';
import type { AnyDerivedProjection, AnyStreamProjection, ProjectionEvent } from './projection.js';
import type { Registry } from './registry.js';
import type { ListResult, TimeTravelPoint } from './types.js';

/** A state and the highest log position folded into it (0 when absent). */
export interface VersionedState {
  readonly state: unknown;
  readonly position: number;
}

export class Queries {
  constructor(
    private readonly registry: Registry,
    private readonly store: EventStore,
    private readonly projectionStore: ProjectionStore,
    private readonly codec: EventCodec,
  ) {}

  async get(projection: string, key: string): Promise<unknown> {
    return (await this.getVersioned(projection, key)).state;
  }

  /** The state with its position, so a watcher can tell an older change from a newer one. */
  async getVersioned(projection: string, key: string): Promise<VersionedState> {
    const definition = this.registry.get(projection);
    if (definition.kind === 'derived') {
      const members = await this.projectionStore.listStates(definition.from, { group: key });
      const states = presentStates(members);
      return {
        state: states.length > 0 ? definition.derive(key, states) : undefined,
        position: Math.max(0, ...members.map((row) => row.position)),
      };
    }
    const row = (await this.projectionStore.readStates(projection, [key])).get(key);
    return { state: row?.state ?? undefined, position: row?.position ?? 0 };
  }

  async list(projection: string, options: ListOptions = {}): Promise<ListResult<unknown>> {
    const definition = this.registry.get(projection);
    const limit = options.limit ?? 100;
    if (definition.kind === 'derived') {
      const all = (await this.deriveAll(definition)).filter(
        ([key, state]) =>
          (options.afterKey === undefined || key > options.afterKey) &&
          matches(state, options.where),
      );
      const page = all.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map(([, state]) => state),
        ...(all.length > limit && last ? { nextKey: last[0] } : {}),
      };
    }
    const rows = await this.projectionStore.listStates(projection, {
      ...options,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: presentStates(page),
      ...(rows.length > limit && last ? { nextKey: last.key } : {}),
    };
  }

  async count(projection: string, where?: StateFilter): Promise<number> {
    const definition = this.registry.get(projection);
    if (definition.kind === 'derived') {
      // Each group of the source is one derived entity: counted by index, not derived.
      if (where === undefined && this.projectionStore.countGroups) {
        return this.projectionStore.countGroups(definition.from);
      }
      return (await this.deriveAll(definition)).filter(([, state]) => matches(state, where)).length;
    }
    return this.projectionStore.countStates(projection, where);
  }

  /** Every derived entity, sorted by key: groups the source states page by page. */
  private async deriveAll(definition: AnyDerivedProjection): Promise<[string, unknown][]> {
    const groups = new Map<string, unknown[]>();
    let afterKey: string | undefined;
    for (;;) {
      const page = await this.projectionStore.listStates(definition.from, {
        limit: 1000,
        ...(afterKey === undefined ? {} : { afterKey }),
      });
      for (const state of presentStates(page)) {
        const group = definition.groupOf(state);
        if (group === null) continue;
        let members = groups.get(group);
        if (!members) groups.set(group, (members = []));
        members.push(state);
      }
      if (page.length < 1000) break;
      afterKey = page[page.length - 1]?.key;
    }
    return [...groups.keys()]
      .sort()
      .map((key) => [key, definition.derive(key, groups.get(key) ?? [])]);
  }

  async stateAt(projection: string, key: string, at: TimeTravelPoint): Promise<unknown> {
    const definition = this.registry.get(projection);
    const within = pointFilter(at);
    if (definition.kind === 'derived') {
      const source = this.registry.stream(definition.from);
      const members = await this.projectionStore.listStates(source.name, { group: key });
      const states: unknown[] = [];
      for (const member of members) {
        const state = await this.foldAt(source, member.key, within);
        if (state !== undefined && definition.groupOf(state) === key) states.push(state);
      }
      return states.length > 0 ? definition.derive(key, states) : undefined;
    }
    if (definition.kind === 'aggregate') {
      // Its state at a past point would be the summary of every member at that point: as costly
      // as the group is large, which is what an aggregate exists to avoid.
      throw new EngineError(
        'not_supported',
        `projection "${projection}" is an aggregate, maintained from its members' changes: it cannot time-travel (time-travel its source "${definition.from}")`,
      );
    }
    return this.foldAt(definition, key, within);
  }

  /** The entity's events within the point, folded by the fold rule: what live gave it then. */
  private async foldAt(
    projection: AnyStreamProjection,
    key: string,
    within: (event: ProjectionEvent) => boolean,
  ): Promise<unknown> {
    if (!projection.streamOf) {
      throw new EngineError(
        'not_supported',
        `projection "${projection.name}" does not name its streams (streamOf), so it cannot time-travel`,
      );
    }
    const handled = new Set(projection.eventTypes);
    const withBody = projection.reads !== 'facts';
    const events: ProjectionEvent[] = [];
    for await (const batch of this.store.readStream(projection.streamOf(key), { withBody })) {
      const handledEvents = batch.filter((e) => handled.has(e.type) && e.stream !== null);
      for (const stored of await withBodiesForStaleFacts(this.store, this.codec, handledEvents)) {
        const event = toProjectionEvent(stored, this.codec);
        if (within(event) && projection.keyOf(event) === key) events.push(event);
      }
    }
    return events.length > 0 ? foldInOrder(projection, key, events) : undefined;
  }
}

/** States of rows that hold one (an entity whose first event was poison has none). */
export function presentStates(rows: readonly StateRow[]): unknown[] {
  return rows
    .filter((row) => row.state !== null && row.state !== undefined)
    .map((row) => row.state);
}

function matches(state: unknown, where: StateFilter | undefined): boolean {
  if (!where) return true;
  const record = state as Record<string, unknown>;
  return Object.entries(where).every(([field, value]) => record[field] === value);
}

function pointFilter(at: TimeTravelPoint): (event: ProjectionEvent) => boolean {
  if ('position' in at) return (event) => event.position <= at.position;
  const time = typeof at.time === 'number' ? at.time : parseIsoTime(at.time);
  if (time === null || !Number.isFinite(time)) {
    throw new EngineError(
      'invalid_time',
      `not a time: ${JSON.stringify(at.time)} (use ISO-8601 with a zone, e.g. 2024-09-10T12:00:00Z, or epoch ms)`,
    );
  }
  return (event) => event.sourceTime <= time;
}

const ISO_WITH_ZONE =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** ISO-8601 with a zone to epoch ms, or `null`: a time without a zone is ambiguous. */
function parseIsoTime(text: string): number | null {
  if (!ISO_WITH_ZONE.test(text.trim())) return null;
  const time = Date.parse(text.trim());
  return Number.isFinite(time) ? time : null;
}
