/**
 * The Truto event codec: raw webhook bodies to events to append (`parseWebhook`), and stored
 * bodies back to the envelope and the typed payload that projections read.
 */
import type { DecodedBody, EventCodec } from '../engine/codec.js';
import { familyOf, isKnownEventType } from './catalogue.js';
import { factsAreCurrent } from './facts.js';
import { parseWebhook, type WebhookEvent } from './parse.js';
import {
  integratedAccountPayloadSchema,
  recordPayloadSchema,
  syncJobRunPayloadSchema,
  syncJobRunRecordPayloadSchema,
} from './schemas.js';
import type { TrutoEnvelope } from './events.js';

const decoder = new TextDecoder();

// Loose: the payload keeps every field Truto sent; the schema types and normalises the ones
// truto-state knows (ids as strings).
const accountPayload = integratedAccountPayloadSchema.loose();
const runPayload = syncJobRunPayloadSchema.loose();
const runRecordPayload = syncJobRunRecordPayloadSchema.loose();
const recordPayload = recordPayloadSchema.loose();

function payloadSchema(type: string) {
  switch (familyOf(type)) {
    case 'integrated_account':
      return accountPayload;
    case 'sync_job_run':
      return type === 'sync_job_run:record' || type === 'sync_job_run:record_error'
        ? runRecordPayload
        : runPayload;
    case 'record':
      return recordPayload;
    case 'other':
      return undefined;
  }
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The envelope and payload of a stored Truto body. */
export function decodeTrutoBody(body: Uint8Array): DecodedBody {
  const json = JSON.parse(decoder.decode(body)) as Record<string, unknown>;
  const envelope: TrutoEnvelope = {
    environmentId: text(json.environment_id),
    webhookId: text(json.webhook_id),
  };
  const type = text(json.event) ?? text(json.event_type) ?? '';
  const schema = payloadSchema(type);
  const parsed = schema?.safeParse(json.payload);
  // A payload that fails its schema was stored unprojected; shown as sent if a projection asks.
  return { envelope, payload: parsed?.success ? parsed.data : json.payload };
}

export const trutoCodec: EventCodec<WebhookEvent> = {
  parse: parseWebhook,
  decode: decodeTrutoBody,
  factsAreCurrent,
  deriveFacts: (body) => {
    const parsed = parseWebhook(body);
    return parsed.ok ? parsed.event.data : null;
  },
  isKnownType: isKnownEventType,
};
