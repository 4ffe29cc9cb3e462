/**
 * A derived projection: health per tenant, computed from the Truto `accounts` states (never
 * stored; derived when read, and its changes published when an account changes). Run by
 * test/examples.unit.test.ts.
 */
import {
  accountsProjection,
  createMemoryEventStore,
  createTrutoEngine,
  defineDerivedProjection,
} from '../src/index.js';

/** Per tenant: its accounts, how many are usable, and which need the user to re-authorize. */
export const tenantHealth = defineDerivedProjection({
  name: 'tenant-health',
  version: 1,
  from: accountsProjection,
  groupOf: (account) => account.tenantId, // accounts without a tenant belong to no group
  derive: (tenantId, accounts) => ({
    tenantId,
    accounts: accounts.length,
    usable: accounts.filter((account) => account.usable).length,
    needsReauth: accounts
      .filter((account) => account.status === 'needs_reauth')
      .map((account) => account.id),
  }),
});

export async function tenantHealthOf(bodies: readonly string[], tenantId: string) {
  const store = createMemoryEventStore();
  const engine = await createTrutoEngine({ store, projections: [tenantHealth] as const });
  try {
    for (const body of bodies) await engine.ingest(body);
    await engine.catchUp();
    return await engine.get('tenant-health', tenantId);
  } finally {
    await engine.close();
    await store.close();
  }
}
