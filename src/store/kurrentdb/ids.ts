/**
 * Webhook ids to KurrentDB event ids. KurrentDB event ids are UUIDs; Truto's ids usually are too,
 * but the port accepts any non-empty string. A canonical lowercase UUID is used as it is; any
 * other string (an uppercase UUID included) becomes a name-based UUID (RFC 4122 version 5, SHA-1)
 * in a fixed namespace, so the same webhook id always maps to the same event id, on every
 * process and every run.
 *
 * Why uppercase UUIDs are hashed instead of lowercased: the port treats ids as exact strings, so
 * `ABC…` and `abc…` are two different events. KurrentDB normalises UUIDs, so passing both through
 * would merge them. The original id is kept in the event's data either way.
 */
import { createHash } from 'node:crypto';

/** The fixed namespace for version-5 ids. Changing it would re-key every stored event: never. */
export const ID_NAMESPACE = '8295fb4a-5c9b-42cd-912a-8e38b0cd2c3b';

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Whether `id` is already a lowercase, hyphenated, non-nil UUID (used as the event id as is). */
export function isCanonicalUuid(id: string): boolean {
  return CANONICAL_UUID.test(id) && id !== NIL_UUID;
}

/**
 * The KurrentDB event id for a webhook id.
 *
 * @example
 * toEventUuid('5b3c…-…'); // the same UUID, when canonical lowercase
 * toEventUuid('evt_123'); // a stable version-5 UUID
 */
export function toEventUuid(id: string): string {
  return isCanonicalUuid(id) ? id : uuidV5(id, ID_NAMESPACE);
}

/** RFC 4122 §4.3 name-based UUID with SHA-1 (version 5). */
export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50; // version 5
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
