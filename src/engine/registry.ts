/**
 * The projection registry: the engine's projections checked once when it is created (unique
 * names, derived and aggregate projections after a stream source, event types that can match),
 * and looked up
 * by name with an error that lists the known ones.
 */
import type { EventCodec } from './codec.js';
import { EngineError } from './errors.js';
import type { Logger } from './logger.js';
import type {
  AnyAggregateProjection,
  AnyDerivedProjection,
  AnyProjection,
  AnyStreamProjection,
} from './projection.js';

export class Registry {
  readonly names: readonly string[];
  readonly streams: readonly AnyStreamProjection[];
  readonly derived: readonly AnyDerivedProjection[];
  readonly aggregates: readonly AnyAggregateProjection[];
  /** For each projection a derived one reads: the group of a state, stored with its row. */
  readonly groupOf: ReadonlyMap<string, (state: unknown) => string | null>;
  private readonly byName: ReadonlyMap<string, AnyProjection>;

  constructor(projections: readonly AnyProjection[]) {
    if (!Array.isArray(projections) || projections.length === 0) {
      throw new EngineError('unknown_projection', 'createEngine needs at least one projection');
    }
    const byName = new Map<string, AnyProjection>();
    for (const projection of projections) {
      if (byName.has(projection.name)) {
        throw new EngineError(
          'unknown_projection',
          `two projections are named "${projection.name}"`,
        );
      }
      if (projection.kind === 'stream' && projection.eventTypes.length === 0) {
        throw new EngineError(
          'unknown_projection',
          `projection "${projection.name}" folds no event type (eventTypes is empty)`,
        );
      }
      if (projection.kind !== 'stream' && byName.get(projection.from)?.kind !== 'stream') {
        throw new EngineError(
          'unknown_projection',
          `${projection.kind} projection "${projection.name}" reads "${projection.from}", which is not a stream projection registered before it`,
        );
      }
      const source = projection.kind === 'derived' ? byName.get(projection.from) : undefined;
      if (source?.kind === 'stream' && source.publish === false) {
        // A derived projection is published from its source's changes.
        throw new EngineError(
          'unknown_projection',
          `derived projection "${projection.name}" reads "${source.name}", which publishes no changes (publish: false): use an aggregate`,
        );
      }
      byName.set(projection.name, projection);
    }
    this.byName = byName;
    this.names = projections.map((p) => p.name);
    this.streams = projections.filter((p): p is AnyStreamProjection => p.kind === 'stream');
    this.derived = projections.filter((p): p is AnyDerivedProjection => p.kind === 'derived');
    this.aggregates = projections.filter(
      (p): p is AnyAggregateProjection => p.kind === 'aggregate',
    );
    this.groupOf = new Map(
      this.derived.map((d) => [d.from, (state: unknown) => d.groupOf(state)] as const),
    );
  }

  get(name: string): AnyProjection {
    const definition = this.byName.get(name);
    if (!definition) {
      throw new EngineError(
        'unknown_projection',
        `unknown projection "${name}" (known: ${this.names.join(', ')})`,
      );
    }
    return definition;
  }

  stream(name: string): AnyStreamProjection {
    const definition = this.get(name);
    if (definition.kind !== 'stream') {
      throw new EngineError(
        'not_supported',
        `"${name}" is ${definition.kind}, not a stream projection`,
      );
    }
    return definition;
  }

  /** Throws when a projection's changes are not published (`publish: false`). */
  assertPublished(name: string): void {
    const definition = this.get(name);
    if (definition.kind === 'stream' && definition.publish === false) {
      throw new EngineError(
        'not_supported',
        `projection "${name}" publishes no changes (publish: false): read it with get or list`,
      );
    }
  }

  /** The aggregates maintained from some stream projections (rebuilt with them). */
  aggregatesOf(sources: readonly AnyStreamProjection[]): AnyAggregateProjection[] {
    const names = new Set(sources.map((p) => p.name));
    return this.aggregates.filter((a) => names.has(a.from));
  }

  /**
   * The stream projections to rebuild for some names: a derived or aggregate one means its
   * source (an aggregate is rebuilt with its source, see aggregatesOf).
   */
  rebuildTargets(names: readonly string[]): AnyStreamProjection[] {
    const targets = new Set<AnyStreamProjection>();
    for (const name of names) {
      const definition = this.get(name);
      targets.add(definition.kind === 'stream' ? definition : this.stream(definition.from));
    }
    return this.streams.filter((p) => targets.has(p));
  }

  /**
   * Warns of event types no event will ever carry as far as the domain knows: a misspelt name
   * folds nothing, silently. (Types the codec does not know may still be the application's own.)
   */
  reportUnknownTypes(codec: EventCodec, logger: Logger, seen: ReadonlySet<string>): string[] {
    const unknown: string[] = [];
    for (const projection of this.streams) {
      for (const type of projection.eventTypes) {
        if (codec.isKnownType(type) || seen.has(type)) continue;
        unknown.push(`${projection.name}: ${type}`);
      }
    }
    if (unknown.length > 0) {
      logger.warn(
        { eventTypes: unknown },
        'projections fold event types the codec does not know and the log has never stored; check the spelling',
      );
    }
    return unknown;
  }
}
