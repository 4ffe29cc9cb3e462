/**
 * `--partitions` / `TRUTO_STATE_PARTITIONS`: left out, no count is passed on, so each instance
 * takes the one the database has (1 for a new one; see leases.ts); given, it is checked here.
 */
import { describe, expect, it } from 'vitest';
import { readStoreConfig } from '../../src/cli/config.js';

const postgres = { store: 'postgres', 'pg-url': 'postgres://h/db' } as const;

describe('the partition count option', () => {
  it('is left out when neither the flag nor the variable is set', () => {
    const config = readStoreConfig(postgres, {});
    expect(config.partitions).toBeUndefined();
    expect('partitions' in config).toBe(false);
  });

  it('is read from the flag first, then the variable', () => {
    expect(readStoreConfig({ ...postgres, partitions: '8' }, {}).partitions).toBe(8);
    expect(readStoreConfig(postgres, { TRUTO_STATE_PARTITIONS: '3' }).partitions).toBe(3);
    expect(
      readStoreConfig({ ...postgres, partitions: '2' }, { TRUTO_STATE_PARTITIONS: '3' }).partitions,
    ).toBe(2);
  });

  it('refuses what is not a whole number from 1 to 1024', () => {
    for (const bad of ['0', '1025', '2.5', 'eight', '']) {
      expect(() => readStoreConfig({ ...postgres, partitions: bad }, {})).toThrow(
        /--partitions must be a whole number from 1 to 1024/,
      );
    }
  });
});
