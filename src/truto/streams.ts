/**
 * Stream naming for Truto entities, in one place: the codec assigns each event its stream with
 * these functions, and the projections name the streams they time-travel over with the same ones.
 * All events of one entity share a stream, so a late event is refolded by re-reading it.
 */

/** An integrated account's events. */
export function accountStream(accountId: string): string {
  return `integrated_account:${accountId}`;
}

/** A sync job run's events, its record batches included. */
export function runStream(runId: string): string {
  return `sync_job_run:${runId}`;
}

/** The `record:*` events of one account and resource: `record:<records key>`. */
export function recordsStream(integratedAccountId: string, resource: string): string {
  return `record:${recordsKey(integratedAccountId, resource)}`;
}

/*
 * A records key joins an account id and a resource with `/`. Resources hold `/` themselves
 * (`hris/employees`), and an account id may too, so the account id is escaped (`%` as `%25`,
 * `/` as `%2F`) and the key splits at its first `/`: no two (account, resource) pairs share a
 * key or a stream. Ids without `%` or `/` (every id Truto issues) are written unchanged.
 */

/**
 * The key of an account's resource: `<escaped account id>/<resource>`.
 *
 * @example
 * recordsKey('acc-1', 'crm/contacts'); // 'acc-1/crm/contacts'
 * recordsKey('a/b', 'c'); // 'a%2Fb/c', never equal to recordsKey('a', 'b/c')
 */
export function recordsKey(integratedAccountId: string, resource: string): string {
  return `${integratedAccountId.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F'))}/${resource}`;
}

/** The account id and resource of a records key (the inverse of `recordsKey`). */
export function splitRecordsKey(key: string): { integratedAccountId: string; resource: string } {
  const slash = key.indexOf('/');
  const account = slash === -1 ? key : key.slice(0, slash);
  return {
    integratedAccountId: account.replace(/%(25|2F)/gi, (_, hex: string) =>
      hex === '25' ? '%' : '/',
    ),
    resource: slash === -1 ? '' : key.slice(slash + 1),
  };
}

/**
 * Events of types the Truto projections do not read (`batch_job:completed`, a type Truto adds
 * tomorrow) still get a stream, so an application's own projections can fold them. A new type of
 * a known entity joins that entity's stream (`integrated_account:archived` with the account's
 * events); otherwise the entity is the payload's `id` within the type's prefix
 * (`other:["batch_job","<id>"]`), else the event itself.
 */
export function otherStream(type: string, payload: unknown, eventId: string): string {
  const colon = type.indexOf(':');
  const entity = colon === -1 ? type : type.slice(0, colon);
  const fields = (payload ?? {}) as Record<string, unknown>;
  const id = idOf(fields.id);
  if (entity === 'integrated_account' && id !== null) return accountStream(id);
  if (entity === 'sync_job_run' && id !== null) return runStream(id);
  if (entity === 'record') {
    const account = idOf(fields.integrated_account_id);
    const resource = typeof fields.resource === 'string' ? fields.resource : null;
    if (account !== null && resource !== null) return recordsStream(account, resource);
  }
  return id === null
    ? `event:${JSON.stringify([type, eventId])}`
    : `other:${JSON.stringify([entity, id])}`;
}

function idOf(value: unknown): string | null {
  if (typeof value === 'string' && value !== '') return value;
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : null;
}
