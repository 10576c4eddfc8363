import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { at } from '../columns';

/**
 * The event log: every platform event, recorded once by the id its emitter gave it (a relay
 * repeated after a crash inserts nothing). Rows are never updated.
 */
export const events = pgTable(
  'events',
  {
    /** Made by the emitter (`evt_…`): the idempotency key from the outbox to the webhook receiver. */
    id: text('id').primaryKey(),
    /**
     * Recording order: the cursor of `events`. IDs come from many processes' clocks and
     * `occurredAt` can tie, so neither gives a stable total order; this does.
     */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    type: text('type').notNull(),
    // Owned by accounts: an ID only, never a foreign key into another subgraph's database.
    organizationId: text('organization_id').notNull(),
    actorKind: text('actor_kind', { enum: ['user', 'apiKey', 'system'] }).notNull(),
    actorUserId: text('actor_user_id'),
    actorApiKeyId: text('actor_api_key_id'),
    /** The subgraph that emitted it (`deployments`, `accounts`, `events`). */
    source: text('source').notNull(),
    subjects: jsonb('subjects').$type<Record<string, string>>().notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    occurredAt: at('occurred_at').notNull(),
    recordedAt: at('recorded_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('events_seq_key').on(t.seq),
    // `events(organizationId)` pages newest first, with or without a type filter.
    index('events_organization_seq_idx').on(t.organizationId, t.seq),
    index('events_organization_type_seq_idx').on(t.organizationId, t.type, t.seq),
  ],
);

export type EventRow = typeof events.$inferSelect;

export const disabledReasons = ['GONE', 'FAILING', 'MANUAL'] as const;
export type DisabledReason = (typeof disabledReasons)[number];

export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    organizationId: text('organization_id').notNull(),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    /** Types it receives; empty receives every type (but `webhook.test`, which goes to one endpoint). */
    eventTypes: text('event_types').array().notNull(),
    enabled: boolean('enabled').notNull().default(true),
    disabledReason: text('disabled_reason', { enum: disabledReasons }),
    disabledAt: at('disabled_at'),
    /** The signing secret (`whsec_…`), AES-256-GCM bound to the endpoint id. */
    secretEncrypted: text('secret_encrypted').notNull(),
    /** The secret a rotation replaced: it still signs, beside the new one, until it expires. */
    previousSecretEncrypted: text('previous_secret_encrypted'),
    previousSecretExpiresAt: at('previous_secret_expires_at'),
    /** The first failure since the last success: an endpoint failing for long enough is disabled. */
    failingSince: at('failing_since'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [index('webhook_endpoints_organization_id_idx').on(t.organizationId, t.id)],
);

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;

export const deliveryStatuses = ['PENDING', 'SUCCEEDED', 'FAILED'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/**
 * One event for one endpoint. Rows are committed with the event they deliver, and the
 * delivery workers claim due rows directly (see subgraphs/events/delivery/dispatcher.ts).
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    eventId: text('event_id')
      .notNull()
      .references(() => events.id),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    organizationId: text('organization_id').notNull(),
    status: text('status', { enum: deliveryStatuses }).notNull().default('PENDING'),
    /** Attempts whose outcome was recorded. */
    attemptCount: integer('attempt_count').notNull().default(0),
    /**
     * Where the retry schedule starts counting: a redelivery restarts it at the attempts made
     * so far, so a redelivered event is retried like a new one.
     */
    scheduleStart: integer('schedule_start').notNull().default(0),
    /** When the next attempt is due; null once SUCCEEDED or FAILED. */
    nextAttemptAt: at('next_attempt_at'),
    /**
     * A worker's claim: until then no other worker takes the row. A worker that dies mid-attempt
     * leaves it to lapse, and the attempt is made again (its outcome was never recorded).
     */
    leasedUntil: at('leased_until'),
    /**
     * A redelivery asked for while an attempt may be in flight: that attempt's outcome must not
     * end the delivery, or the redelivery the user was told about would never be sent. A claim
     * clears it (the attempt it starts is the redelivery); recording an outcome honours it.
     */
    redeliverRequested: boolean('redeliver_requested').notNull().default(false),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_endpoint_key').on(t.eventId, t.endpointId),
    index('webhook_deliveries_endpoint_id_idx').on(t.endpointId, t.id),
    // The workers' claim query: due rows only.
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'PENDING'`),
  ],
);

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

export const webhookDeliveryAttempts = pgTable(
  'webhook_delivery_attempts',
  {
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    /** 1 for the first attempt of the delivery, counting redeliveries on. */
    number: integer('number').notNull(),
    startedAt: at('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    /** The receiver's HTTP status; null when no response came (refused, timed out, unreachable). */
    statusCode: integer('status_code'),
    error: text('error'),
    /** The first bytes of the response body, as text. */
    responseExcerpt: text('response_excerpt'),
    /** When the attempt after this one was scheduled; null if none was. */
    nextAttemptAt: at('next_attempt_at'),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.number] })],
);

export type WebhookDeliveryAttemptRow = typeof webhookDeliveryAttempts.$inferSelect;
