/**
 * The service's logger: lines a person reads on a terminal (pino-pretty: time, level, message,
 * then the fields), pino's JSON lines otherwise, or whenever asked (`--log-format json`) for
 * log collectors. Formatting happens in this process, synchronously: no worker thread, and the
 * start-up line is written before `serve` goes on.
 */
import { pino, type Level, type Logger } from 'pino';

export type LogFormat = 'pretty' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json'];

export interface LoggerOptions {
  readonly level: Level;
  /** `undefined`: pretty on a terminal, JSON otherwise. */
  readonly format: LogFormat | undefined;
  readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The logger; pino-pretty is loaded only when its lines are wanted (JSON needs only pino). */
export async function createLogger(options: LoggerOptions): Promise<Logger> {
  const format = options.format ?? (options.stream.isTTY ? 'pretty' : 'json');
  const base = { level: options.level, base: { service: 'truto-state' } };
  if (format === 'json') return pino(base, options.stream);
  const { PinoPretty } = await import('pino-pretty');
  const pretty = PinoPretty({
    destination: options.stream,
    sync: true,
    colorize: options.stream.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    singleLine: true,
  });
  return pino(base, pretty);
}
