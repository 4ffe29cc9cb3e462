import type { EventStoreWithProjections } from '../port.js';
export function createMemoryEventStore(): EventStoreWithProjections {
  throw new Error('not built yet');
}
