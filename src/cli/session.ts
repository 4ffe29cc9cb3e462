/** Opens the configured store and an engine on it, for the one-shot commands. */
import { createTrutoEngine, type TrutoEngine, type TrutoEngineOptions } from '../truto/engine.js';
import { openBackend, type Backend } from './backend.js';
import { UsageError } from './command.js';
import type { StoreConfig } from './config.js';

export interface Session {
  readonly backend: Backend;
  readonly engine: TrutoEngine;
  close(): Promise<void>;
}

/**
 * A session that projects only when asked (`catchUp`, `rebuild`): no live following. `observe`:
 * on a shared store, hold no partition (a rebuild needs none and would only take them from the
 * running instances).
 */
export async function openSession(
  config: StoreConfig,
  options: { readonly observe?: boolean } = {},
): Promise<Session> {
  const backend = await openBackend(config);
  try {
    const engine = await openEngine(backend, { live: false }, options);
    return {
      backend,
      engine,
      close: async () => {
        await engine.close();
        await backend.close();
      },
    };
  } catch (error) {
    await backend.close();
    throw error;
  }
}

/**
 * An engine on a backend. On a shared store it joins the partition leases first, so it applies
 * only the partitions it holds; closing the engine gives them back.
 */
export async function openEngine(
  backend: Backend,
  options: Omit<TrutoEngineOptions<readonly []>, 'store' | 'projectionStore' | 'partitions'> = {},
  join: { readonly observe?: boolean } = {},
): Promise<TrutoEngine> {
  const joined = await backend.joinPartitions?.(join);
  try {
    const engine = await createTrutoEngine({
      ...options,
      store: backend.store,
      projectionStore: backend.projectionStore,
      ...(joined ? { partitions: joined.source } : {}),
    });
    if (!joined) return engine;
    const close = engine.close.bind(engine);
    return Object.assign(engine, {
      close: async () => {
        await close();
        await joined.leave();
      },
    });
  } catch (error) {
    await joined?.leave();
    throw error;
  }
}

/** A projection name from the command line, checked against the engine's. */
export function projectionNamed(
  engine: TrutoEngine,
  name: string,
): TrutoEngine['projectionNames'][number] {
  const known: readonly string[] = engine.projectionNames;
  if (!known.includes(name)) {
    throw new UsageError(`unknown projection "${name}" (known: ${known.join(', ')})`);
  }
  return name as TrutoEngine['projectionNames'][number];
}
