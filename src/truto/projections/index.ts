/**
 * The Truto projections: pure reducers over the facts of Truto webhooks (no I/O, no store, no
 * clock). Field names and semantics: shared/docs/projections.md; each module's header lists the
 * choices made where that document is silent.
 */
import { accountSyncProjection } from './account-sync.js';
import { accountsProjection } from './accounts.js';
import { recordStatesProjection } from './record-states.js';
import { recordsProjection } from './records.js';
import { runsProjection } from './runs.js';

export {
  accountsProjection,
  ACCOUNT_STATUSES,
  USABLE_ACCOUNT_STATUSES,
  accountStatusAfter,
  evolveAccount,
  initialAccountState,
} from './accounts.js';
export type { AccountState, AccountStatus, AccountTransition } from './accounts.js';

export {
  runsProjection,
  RUN_STATUSES,
  TERMINAL_RUN_STATUSES,
  ACTIVE_RUN_STATUSES,
  UNKNOWN_RESOURCE,
  isTerminalRunStatus,
  requestedRunStatus,
  nextRunStatus,
  evolveRun,
  initialRunState,
} from './runs.js';
export type { RunState, RunStatus, RunTimelineEntry } from './runs.js';

export { accountSyncProjection, deriveAccountSync } from './account-sync.js';
export type { AccountSyncState } from './account-sync.js';

export {
  recordStatesProjection,
  recordStateKey,
  evolveRecordState,
  initialRecordState,
} from './record-states.js';
export type { RecordState, RecordAction } from './record-states.js';

export { recordsProjection, recordsKey, applyRecordMove, initialRecordsState } from './records.js';
export type { RecordsState } from './records.js';

/**
 * The Truto projections, in registration order (`account-sync` after its source `runs`,
 * `records` after its source `record-states`).
 */
export const trutoProjections = [
  accountsProjection,
  runsProjection,
  accountSyncProjection,
  recordStatesProjection,
  recordsProjection,
] as const;

/** The type of the Truto projection list: names and states for a typed engine. */
export type TrutoProjections = typeof trutoProjections;
