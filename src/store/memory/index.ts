/** The in-memory adapter: log and projection state in process memory (tests, embedding). */
export { createMemoryEventStore } from './event-store.js';
export type { MemoryEventStore } from './event-store.js';
export { createMemoryProjectionStore } from './projection-store.js';
export type { ListableProjectionStore } from './projection-store.js';
