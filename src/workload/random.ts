/**
 * A tiny seeded PRNG for the workload generator: sfc32, seeded through splitmix32. Deterministic
 * across platforms (32-bit integer arithmetic only), so a seed names one workload forever.
 * Never `Math.random`: a benchmark or a demo must be reproducible from its seed.
 */

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (both inclusive). */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** `length` lowercase hex digits. */
  hex(length: number): string;
  /** An exponentially distributed value with the given mean (for gaps between events). */
  exp(mean: number): number;
}

/**
 * Creates a PRNG from a seed (any integer; only its low 32 bits count).
 *
 * @example
 * const a = createRandom(42);
 * const b = createRandom(42);
 * a.next() === b.next(); // true
 */
export function createRandom(seed: number): Random {
  // splitmix32 spreads a small seed over sfc32's 128-bit state.
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const u32 = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return r >>> 0;
  };
  // Discard the first outputs: sfc32's early outputs correlate with the seed.
  for (let i = 0; i < 12; i++) u32();

  const next = (): number => u32() / 4294967296;
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty array');
      return items[Math.floor(next() * items.length)] as T;
    },
    hex: (length) => {
      let out = '';
      while (out.length < length) out += u32().toString(16).padStart(8, '0');
      return out.slice(0, length);
    },
    exp: (mean) => -Math.log(1 - next()) * mean,
  };
}
