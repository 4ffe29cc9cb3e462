/** Webhook events: envelope and payload schemas, parsing of raw bodies, source time. */
export {
  familyOf,
  isKnownEventType,
  INTEGRATED_ACCOUNT_EVENTS,
  SYNC_JOB_RUN_EVENTS,
  RECORD_EVENTS,
  OTHER_KNOWN_EVENTS,
  TRUTO_ACCOUNT_STATUSES,
  RUN_STATUSES,
} from './catalogue.js';
export type {
  EventFamily,
  IntegratedAccountEventType,
  SyncJobRunEventType,
  RecordEventType,
  ProjectedEventType,
} from './catalogue.js';
export type { AccountFacts, RunFacts, RecordFacts, EventFacts } from './facts.js';
export { parseWebhook } from './parse.js';
export type {
  WebhookEvent,
  ParseResult,
  EnvelopeErrorCode,
  SkipReason,
  SkipNote,
  PayloadIssue,
} from './parse.js';
export { parseSourceTime, toIsoTime, normaliseTime } from './time.js';
export { envelopeSchema } from './schemas.js';
