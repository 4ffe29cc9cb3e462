/**
 * `truto-state serve`: the service. Webhook receiver, read API, change stream and metrics on one
 * port, over the configured store, projecting live.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Level, Logger } from 'pino';
import { config as rxConfig } from '../../engine/rx.js';
import { DEFAULT_MAX_BODY } from '../../http/app.js';
import { isLoopbackHost } from '../../http/auth.js';
import { parseSize } from '../../http/body.js';
import { createHttpService, DEFAULT_MAX_STREAMS } from '../../http/server.js';
import { openBackend } from '../backend.js';
import { createLogger, LOG_FORMATS, type LogFormat } from '../log.js';
import { openEngine } from '../session.js';
import { DEFAULT_WARM_UP, MAX_WARM_UP, warmUp } from '../warm-up.js';
import { UsageError, type Command } from '../command.js';
import {
  parseCommandArgs,
  readStoreConfig,
  STORE_USAGE,
  storeOptions,
  type StoreConfig,
} from '../config.js';

/** The flags `serve` accepts (exported for the check of docker-compose.yml against them). */
export const serveOptions = {
  ...storeOptions,
  port: { type: 'string' },
  host: { type: 'string' },
  secret: { type: 'string', multiple: true },
  'api-token': { type: 'string' },
  'max-body': { type: 'string' },
  'max-streams': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'warm-up': { type: 'string' },
} as const;

const LEVELS: readonly Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export const command: Command = {
  summary: 'truto-state serve: the webhook receiver, read API, change stream and metrics',
  usage: `Usage: truto-state serve [options]

Endpoints: POST /webhooks/truto; GET /accounts, /accounts/:id, /runs, /runs/:id,
/account-sync/:accountId, /records, /stats, /changes (server-sent events), /metrics, /health;
the dashboard at / (with /session and /overview).

  --port <n>              port (env PORT, default 8080; 0 picks a free one)
  --host <host>           interface (env HOST, default 127.0.0.1); any other than loopback
                          needs an API token
  --secret <s>            webhook secret; repeat for rotation (env TRUTO_WEBHOOK_SECRETS,
                          comma-separated). Without one, a secret is generated and kept in the
                          data directory, for a first look
  --api-token <t>         bearer token for the read API, /changes and /metrics
                          (env TRUTO_STATE_API_TOKEN)
  --max-body <size>       webhook body limit: bytes, or 512kb, 1mb (default 1mb)
  --max-streams <n>       change streams (/changes) open at once; beyond it 503
                          (env TRUTO_STATE_MAX_STREAMS, default ${DEFAULT_MAX_STREAMS})
  --log-level <level>     fatal|error|warn|info|debug|trace (env LOG_LEVEL, default info)
  --log-format <f>        pretty|json (env LOG_FORMAT; default pretty on a terminal, else json)
  --warm-up <n>           before listening, run n generated deliveries through an in-memory
                          copy of the service, so the first real ones do not pay for compiling
                          the code (env TRUTO_STATE_WARM_UP, default ${DEFAULT_WARM_UP}; 0 skips it)

${STORE_USAGE}`,
  async run(context) {
    // Listened for from the start: a supervisor may stop the service the moment it logs its URL,
    // and a SIGTERM arriving before the handler existed killed it instead of stopping it.
    const stopped = context.waitForStop();
    const { values } = parseCommandArgs(context.argv, serveOptions);
    const env = context.env;
    const port = readPort(values.port ?? env.PORT ?? '8080');
    const host = values.host ?? env.HOST ?? '127.0.0.1';
    const apiToken = values['api-token'] ?? env.TRUTO_STATE_API_TOKEN ?? undefined;
    if (!isLoopbackHost(host) && !apiToken) {
      throw new UsageError(
        `refusing to serve the read API on ${host} without a token: set --api-token or TRUTO_STATE_API_TOKEN (or bind 127.0.0.1)`,
      );
    }
    const maxBodyText = values['max-body'] ?? env.TRUTO_STATE_MAX_BODY;
    const maxBody = maxBodyText === undefined ? DEFAULT_MAX_BODY : parseSize(maxBodyText);
    if (maxBody === null)
      throw new UsageError(`--max-body must be a size such as 1048576, 512kb or 1mb`);
    const maxStreamsText = values['max-streams'] ?? env.TRUTO_STATE_MAX_STREAMS;
    const maxStreams = maxStreamsText === undefined ? DEFAULT_MAX_STREAMS : Number(maxStreamsText);
    if (!/^\d+$/.test(maxStreamsText ?? '0') || maxStreams < 1 || maxStreams > 100_000)
      throw new UsageError(`--max-streams must be a whole number from 1 to 100000`);
    const level = (values['log-level'] ?? env.LOG_LEVEL ?? 'info').toLowerCase() as Level;
    if (!LEVELS.includes(level))
      throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
    const warmUpText = values['warm-up'] ?? env.TRUTO_STATE_WARM_UP;
    const warmUpDeliveries = warmUpText === undefined ? DEFAULT_WARM_UP : Number(warmUpText);
    if (!/^\d+$/.test(warmUpText ?? '0') || warmUpDeliveries > MAX_WARM_UP)
      throw new UsageError(`--warm-up must be a whole number from 0 to ${MAX_WARM_UP}`);
    const storeConfig = readStoreConfig(values, env);
    const formatText = values['log-format'] ?? env.LOG_FORMAT;
    if (formatText !== undefined && !LOG_FORMATS.includes(formatText as LogFormat))
      throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}`);
    const logger = await createLogger({
      level,
      format: formatText as LogFormat | undefined,
      stream: context.stdout,
    });
    // The service owns its process: a change subscriber that throws is logged, not fatal.
    rxConfig.onUnhandledError = (error: unknown) =>
      logger.error({ err: error }, 'a change subscriber threw');

    const secrets = [...(values.secret ?? []), ...(env.TRUTO_WEBHOOK_SECRETS ?? '').split(',')]
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (secrets.length === 0) secrets.push(firstLookSecret(storeConfig, logger));

    if (warmUpDeliveries > 0) {
      await warmUp({ deliveries: warmUpDeliveries, store: storeConfig.kind, logger });
    }
    const backend = await openBackend(storeConfig);
    let engine;
    try {
      // On a shared store (PostgreSQL) this joins the instances' partition leases. A projection
      // whose version changed is rebuilt in the background: webhooks are taken meanwhile.
      engine = await openEngine(backend, { startupRebuild: 'background', logger });
    } catch (error) {
      await backend.close();
      throw error;
    }
    const service = createHttpService({ engine, secrets, apiToken, maxBody, maxStreams, logger });
    let url: string;
    try {
      url = await service.listen(port, host);
    } catch (error) {
      await engine.close();
      await backend.close();
      throw error;
    }
    // Start and stop are always logged, whatever the level: scripts and tests read the URL.
    const lifecycle = logger.child({}, { level: 'info' });
    lifecycle.info(
      {
        url,
        store: backend.description,
        secrets: secrets.length,
        token: apiToken !== undefined,
        maxBody,
        maxStreams,
      },
      `listening on ${url}`,
    );

    const signal = await stopped;
    lifecycle.info({ signal }, 'shutting down: finishing in-flight requests');
    await service.close();
    await engine.close();
    await backend.close();
    lifecycle.info('stopped');
    return 0;
  },
};

function readPort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535)
    throw new UsageError(`--port must be 0-65535, got ${text}`);
  return port;
}

/**
 * With no secret configured, the service still starts for a first look: a secret is generated
 * once, kept next to the database (mode 0600) and reused on restart.
 */
function firstLookSecret(config: StoreConfig, logger: Logger): string {
  const dir = dirname(config.db);
  const file = join(dir, 'webhook-secret');
  let secret: string;
  let generated = false;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dir, { recursive: true });
    secret = randomUUID();
    try {
      // `wx`: never overwrite one another process has just written.
      writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
      generated = true;
    } catch {
      secret = readFileSync(file, 'utf8').trim();
    }
  }
  logger.warn(
    { secretFile: file, generated },
    `no webhook secret configured: using ${generated ? 'a generated' : 'the stored'} secret ${secret} (kept in ${file}). ` +
      `For real deliveries, pass the secret Truto shows for your webhook with --secret or TRUTO_WEBHOOK_SECRETS.`,
  );
  return secret;
}
