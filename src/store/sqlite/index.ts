import type { EventStoreWithProjections } from '../port.js';
export function createSqliteEventStore(_options: { path: string }): EventStoreWithProjections {
  throw new Error('not built yet');
}
