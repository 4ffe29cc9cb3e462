/**
 * The engine reports what it cannot throw to a caller (a background retry, a failed startup
 * rebuild) through a logger the application passes: pino's, or anything with the same methods.
 * The library never writes to the console itself.
 */

/** The pino-compatible subset the engine calls: `logger.warn({ err }, 'message')`. */
export interface Logger {
  error(details: object, message?: string): void;
  warn(details: object, message?: string): void;
  info(details: object, message?: string): void;
}

/** Reports nothing: the default, so an embedded engine never writes to the console. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
};
