/**
 * Body-size profiles: the same Truto-shaped history with small or large record pages. Floors move
 * differently with body size (JSON.parse and raw inserts scale with bytes; the projector with
 * events), so throughput is reported on both.
 */
export interface BodyProfile {
  /** As given to `--bodies` and shown in the table. */
  readonly name: '1kb' | '5kb';
  /** The generator's `maxRecordsPerPage` giving this average body size. */
  readonly maxRecordsPerPage: number;
}

export const BODY_PROFILES: readonly BodyProfile[] = [
  { name: '1kb', maxRecordsPerPage: 3 },
  { name: '5kb', maxRecordsPerPage: 50 },
];

export function parseBodies(text: string | undefined): readonly BodyProfile[] {
  if (text === undefined) return BODY_PROFILES;
  return text.split(',').map((name) => {
    const profile = BODY_PROFILES.find((p) => p.name === name.trim().toLowerCase());
    if (!profile)
      throw new Error(
        `--bodies: unknown profile ${name} (known: ${BODY_PROFILES.map((p) => p.name).join(', ')})`,
      );
    return profile;
  });
}
