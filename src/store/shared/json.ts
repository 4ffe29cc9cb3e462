/**
 * JSON text for values kept by projection stores (states, change before/after). A value JSON
 * cannot write (a BigInt, a cycle, nesting deep enough to overflow the stack) is the commit's
 * deterministic failure: StoreError `store_rejected`, before any transaction starts.
 */
import { StoreError, checkStorableText } from '../errors.js';
import type { ChangeRecord, DeadLetter, ProjectionCommit } from '../port.js';

/** JSON.stringify, with its failures as `store_rejected` (`what` named only then). */
export function stringify(
  value: unknown,
  what: string | (() => string),
  subject?: { readonly projection: string; readonly key: string },
): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new StoreError(
      'store_rejected',
      `${typeof what === 'string' ? what : what()} cannot be written as JSON: ${(error as Error).message}`,
      { cause: error, ...(subject ? { subject } : {}) },
    );
  }
}

/**
 * JSON text made elsewhere, stored as it is. An import parses its lines on worker threads, which
 * send each event's facts back as the text they will be stored as: rebuilt into objects on the
 * main thread they would only be written out again, and that thread is what limits an import.
 * Only for text `JSON.stringify` made (it is not checked again).
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** `undefined` (no state before a first change) is kept as SQL NULL, apart from JSON `null`. */
export function encodeOptional(value: unknown): string | null {
  return value === undefined ? null : stringify(value, 'a change');
}

/**
 * `text` (the JSON of `state`), kept in `texts` when the state is an object a journalled change
 * of the same commit may name again: its `after` is usually the state written beside it.
 */
export function rememberText(texts: Map<unknown, string>, state: unknown, text: string): string {
  if (typeof state === 'object' && state !== null) texts.set(state, text);
  return text;
}

/**
 * A change with its states as JSON text (`encodeOptional`), as the journal keeps it; `texts`
 * holds text already written for some state objects (the same commit's state rows).
 */
export function encodeChangeStates<
  C extends { readonly before?: unknown; readonly after?: unknown },
>(
  change: C,
  texts?: ReadonlyMap<unknown, string>,
): Omit<C, 'before' | 'after'> & { before: string | null; after: string | null } {
  return {
    ...change,
    before: texts?.get(change.before) ?? encodeOptional(change.before),
    after: texts?.get(change.after) ?? encodeOptional(change.after),
  };
}

export function decodeOptional(text: string | null): unknown {
  return text === null ? undefined : (JSON.parse(text) as unknown);
}

/** A state as JSON text (`null` for an absent state); `subject` names it in a refusal. */
export function encodeState(
  value: unknown,
  subject?: { readonly projection: string; readonly key: string },
): string {
  return stringify(
    value ?? null,
    () => (subject ? `${subject.projection} state of ${JSON.stringify(subject.key)}` : 'a state'),
    subject,
  );
}

/** `\u0000` in JSON text, not preceded by an escaping backslash (`\\u0000` is a backslash). */
const ESCAPED_NUL = /(?:^|[^\\])(?:\\\\)*\\u0000/;

/**
 * Checks the text columns of a projection commit before it starts, the same on every store: a
 * key, group or state holding a NUL fails the commit with `store_rejected` (PostgreSQL could
 * not hold or filter it, and a projection must behave alike on every store).
 */
export function checkCommitText(
  batch: ProjectionCommit,
  encoded: readonly { readonly projection: string; readonly key: string; readonly state: string }[],
): void {
  for (const { projection, key, state } of encoded) {
    // The scan for the escape first: the pattern over every state's text cost more than the rest
    // of the checks together.
    if (state.includes('\\u0000') && ESCAPED_NUL.test(state)) {
      throw new StoreError(
        'store_rejected',
        `${projection} state of ${JSON.stringify(key)} holds a NUL character (U+0000), which state filters cannot read on PostgreSQL`,
        { subject: { projection, key } },
      );
    }
  }
  for (const { projection, row } of batch.states) {
    const subject = { projection, key: row.key };
    checkStorableText(row.key, () => `${projection} key ${JSON.stringify(row.key)}`, subject);
    if (row.group !== null && row.group !== undefined) {
      checkStorableText(
        row.group,
        () => `${projection} group of ${JSON.stringify(row.key)}`,
        subject,
      );
    }
  }
  for (const change of batch.changes) {
    checkStorableText(change.key, () => `${change.projection} key ${JSON.stringify(change.key)}`, {
      projection: change.projection,
      key: change.key,
    });
  }
}

/**
 * A dead letter's error text as stored: free text (a reducer's message) may hold a NUL, which is
 * written as the visible escape `\u0000` so recording the dead letter cannot itself fail.
 */
export function storableLetter(letter: DeadLetter): DeadLetter {
  return letter.error.includes('\u0000') || letter.key.includes('\u0000')
    ? {
        ...letter,
        key: letter.key.replaceAll('\u0000', '\\u0000'),
        error: letter.error.replaceAll('\u0000', '\\u0000'),
      }
    : letter;
}

/**
 * A journalled change as the commit answers it. Its states are decoded when first read: most
 * commits have nobody to publish to (a catch-up, an instance nobody watches), and decoding them
 * all cost as much as encoding them. Each read after the first returns the same value.
 */
export function journalled(
  c: Omit<ChangeRecord, 'seq' | 'before' | 'after'> & {
    readonly before: string | null;
    readonly after: string | null;
  },
  seq: number,
): ChangeRecord {
  let before: unknown = NOT_DECODED;
  let after: unknown = NOT_DECODED;
  return {
    seq,
    projection: c.projection,
    key: c.key,
    eventId: c.eventId,
    position: c.position,
    get before() {
      if (before === NOT_DECODED) before = decodeOptional(c.before);
      return before;
    },
    get after() {
      if (after === NOT_DECODED) after = decodeOptional(c.after);
      return after;
    },
  };
}

const NOT_DECODED: unique symbol = Symbol('not decoded');
