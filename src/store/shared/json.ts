/** JSON text for values kept by projection stores (states, change before/after). */

/** `undefined` (no state before a first change) is kept as SQL NULL, apart from JSON `null`. */
export function encodeOptional(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

export function decodeOptional(text: string | null): unknown {
  return text === null ? undefined : (JSON.parse(text) as unknown);
}

/** A state as JSON text (`null` for an absent state). */
export function encodeState(value: unknown): string {
  return JSON.stringify(value ?? null);
}
