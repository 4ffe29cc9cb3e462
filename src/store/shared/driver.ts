/**
 * Database drivers are installed only by those who chose their store: `pg` and
 * `@kurrent/kurrentdb-client` are optional peer dependencies, and `better-sqlite3` an optional
 * dependency (installed by default, but its native build may have failed or been omitted). So a
 * store's subpath checks for its driver when it is imported, and a missing one is one clear
 * `driver_missing` StoreError naming the package to install, instead of Node's
 * ERR_MODULE_NOT_FOUND from some file deep inside dist/.
 *
 * Resolution is Node's own `require.resolve` from this package's location, which finds a driver
 * wherever npm put it (hoisted beside truto-state, or nested in it). The three drivers are
 * CommonJS, so `requireDriver` can also load one synchronously, keeping factories synchronous.
 */
import { createRequire } from 'node:module';
import { StoreError } from '../errors.js';

const require = createRequire(import.meta.url);

/**
 * Throws a `driver_missing` StoreError unless the package `driver` can be found.
 *
 * @example
 * assertDriverInstalled('truto-state/postgres', 'pg');
 * // StoreError driver_missing: truto-state/postgres needs the 'pg' package: npm install pg
 */
export function assertDriverInstalled(subpath: string, driver: string): void {
  try {
    require.resolve(driver);
  } catch (error) {
    // Only "not found" means "not installed"; anything else (a broken package.json, say) is
    // reported as it is.
    if ((error as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw error;
    throw new StoreError(
      'driver_missing',
      `${subpath} needs the '${driver}' package: npm install ${driver}`,
      { cause: error },
    );
  }
}

/**
 * Loads the CommonJS driver `driver` synchronously, or throws `driver_missing`.
 *
 * @example
 * const Database = requireDriver<typeof import('better-sqlite3')>('truto-state/sqlite', 'better-sqlite3');
 */
export function requireDriver<T>(subpath: string, driver: string): T {
  assertDriverInstalled(subpath, driver);
  return require(driver) as T;
}

/** Where `driver` was found (for a worker thread to load the same one). */
export function resolveDriver(driver: string): string {
  return require.resolve(driver);
}
