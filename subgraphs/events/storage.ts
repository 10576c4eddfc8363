import DataLoader from 'dataloader';
import { and, asc, count, desc, eq, gt, inArray, lt, type SQL, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import {
  type DeliveryStatus,
  type DisabledReason,
  type EventRow,
  events,
  type WebhookDeliveryAttemptRow,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
  webhookDeliveries,
  webhookDeliveryAttempts,
  webhookEndpoints,
} from '../../db/events/schema';
import { newId } from '../../db/ids';
import type { Actor } from '../common/caller';
import { inTransaction } from '../common/jobs';
import { byId } from '../common/loaders';
import type { PageQuery } from '../common/pagination';
import type { PlatformEvent } from '../common/platform-events';

type Database = NodePgDatabase;

/** `webhook.test` goes to the one endpoint named in its subjects, never to every endpoint. */
export const TEST_EVENT = 'webhook.test';

/**
 * Pages newest first: `after` a cursor means older, `before` newer. `keysetConnection` asks for
 * `descending` when reading backwards (`last`) and reverses the rows itself.
 */
function newestFirst<T extends string | number>(
  key: Parameters<typeof lt>[0],
  page: PageQuery,
  cast: (cursor: string) => T,
): { where: SQL | undefined; order: SQL } {
  return {
    where: and(
      page.afterId !== undefined ? lt(key, cast(page.afterId)) : undefined,
      page.beforeId !== undefined ? gt(key, cast(page.beforeId)) : undefined,
    ),
    order: page.descending ? asc(key) : desc(key),
  };
}

/** A cursor of `events` is a recording sequence number; anything else matches nothing. */
const seqOf = (cursor: string) => (/^\d{1,18}$/.test(cursor) ? Number(cursor) : -1);

export type NewEndpoint = Pick<
  WebhookEndpointRow,
  'id' | 'organizationId' | 'url' | 'description' | 'eventTypes' | 'secretEncrypted'
>;

export type EndpointChanges = Partial<
  Pick<
    WebhookEndpointRow,
    | 'url'
    | 'description'
    | 'eventTypes'
    | 'enabled'
    | 'disabledReason'
    | 'disabledAt'
    | 'failingSince'
    | 'secretEncrypted'
    | 'previousSecretEncrypted'
    | 'previousSecretExpiresAt'
  >
>;

function queries(db: Database) {
  return {
    // ---- events
    async eventsByIds(ids: readonly string[]): Promise<EventRow[]> {
      return db
        .select()
        .from(events)
        .where(inArray(events.id, [...ids]));
    },
    async eventsOfOrganization(
      organizationId: string,
      types: string[] | undefined,
      page: PageQuery,
    ): Promise<EventRow[]> {
      const { where, order } = newestFirst(events.seq, page, seqOf);
      return db
        .select()
        .from(events)
        .where(
          and(
            eq(events.organizationId, organizationId),
            types ? inArray(events.type, types) : undefined,
            where,
          ),
        )
        .orderBy(order)
        .limit(page.limit);
    },

    // ---- endpoints
    async endpointsByIds(ids: readonly string[]): Promise<WebhookEndpointRow[]> {
      return db
        .select()
        .from(webhookEndpoints)
        .where(inArray(webhookEndpoints.id, [...ids]));
    },
    async endpointsOfOrganizations(organizationIds: readonly string[]): Promise<WebhookEndpointRow[]> {
      return db
        .select()
        .from(webhookEndpoints)
        .where(inArray(webhookEndpoints.organizationId, [...organizationIds]))
        .orderBy(asc(webhookEndpoints.id));
    },
    async countEndpoints(organizationId: string): Promise<number> {
      const [row] = await db
        .select({ n: count() })
        .from(webhookEndpoints)
        .where(eq(webhookEndpoints.organizationId, organizationId));
      return row?.n ?? 0;
    },
    /** Serializes endpoint creation in one organization until the transaction ends (the limit holds). */
    async lockOrganization(organizationId: string): Promise<void> {
      await db.execute(sql`SELECT pg_advisory_xact_lock(hashtext('events:org:' || ${organizationId}))`);
    },
    async insertEndpoint(values: NewEndpoint): Promise<WebhookEndpointRow> {
      const [row] = await db.insert(webhookEndpoints).values(values).returning();
      return row!;
    },
    async updateEndpoint(id: string, changes: EndpointChanges): Promise<WebhookEndpointRow | null> {
      const [row] = await db
        .update(webhookEndpoints)
        .set({ ...changes, updatedAt: new Date() })
        .where(eq(webhookEndpoints.id, id))
        .returning();
      return row ?? null;
    },
    async lockEndpoint(id: string): Promise<WebhookEndpointRow | null> {
      const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).for('update');
      return row ?? null;
    },
    async deleteEndpoint(id: string): Promise<void> {
      await db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
    },

    // ---- deliveries
    async deliveriesByIds(ids: readonly string[]): Promise<WebhookDeliveryRow[]> {
      return db
        .select()
        .from(webhookDeliveries)
        .where(inArray(webhookDeliveries.id, [...ids]));
    },
    async deliveriesOfEndpoint(
      endpointId: string,
      statuses: DeliveryStatus[] | undefined,
      page: PageQuery,
    ): Promise<WebhookDeliveryRow[]> {
      const { where, order } = newestFirst(webhookDeliveries.id, page, String);
      return db
        .select()
        .from(webhookDeliveries)
        .where(
          and(
            eq(webhookDeliveries.endpointId, endpointId),
            statuses ? inArray(webhookDeliveries.status, statuses) : undefined,
            where,
          ),
        )
        .orderBy(order)
        .limit(page.limit);
    },
    async deliveryOf(eventId: string, endpointId: string): Promise<WebhookDeliveryRow | null> {
      const [row] = await db
        .select()
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.eventId, eventId), eq(webhookDeliveries.endpointId, endpointId)));
      return row ?? null;
    },
    async attemptsOfDeliveries(deliveryIds: readonly string[]): Promise<WebhookDeliveryAttemptRow[]> {
      return db
        .select()
        .from(webhookDeliveryAttempts)
        .where(inArray(webhookDeliveryAttempts.deliveryId, [...deliveryIds]))
        .orderBy(asc(webhookDeliveryAttempts.number));
    },
    /**
     * Makes a delivery due now again, whatever its state, with the retry schedule starting over.
     * Its lease stays: an attempt in flight finishes and records first, then, seeing the request,
     * leaves the delivery due now instead of ending it.
     */
    async redeliver(id: string): Promise<WebhookDeliveryRow | null> {
      const [row] = await db
        .update(webhookDeliveries)
        .set({
          status: 'PENDING',
          nextAttemptAt: sql`now()`,
          scheduleStart: sql`${webhookDeliveries.attemptCount}`,
          redeliverRequested: true,
          updatedAt: new Date(),
        })
        .where(eq(webhookDeliveries.id, id))
        .returning();
      return row ?? null;
    },
    /** Ends every pending delivery of a disabled endpoint: they are FAILED, nothing more is sent. */
    async failPendingDeliveries(endpointId: string): Promise<void> {
      await db
        .update(webhookDeliveries)
        .set({ status: 'FAILED', nextAttemptAt: null, updatedAt: new Date() })
        .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'PENDING')));
    },
  };
}

export type EventsQueries = ReturnType<typeof queries>;

/** The queries on a client's open transaction (the delivery workers' own). */
export const queriesOn = (client: pg.PoolClient): EventsQueries => queries(drizzle({ client }));

/**
 * Records events once each by id and, for those new to the log, creates their deliveries to
 * the organization's enabled endpoints subscribed to their type, all on `client`'s open
 * transaction. Returns the events it recorded (those already in the log are left out).
 */
export async function recordEvents(client: pg.ClientBase, batch: PlatformEvent[]): Promise<EventRow[]> {
  if (batch.length === 0) return [];
  const { rows } = await client.query<RawEvent>(
    `INSERT INTO events (id, type, organization_id, actor_kind, actor_user_id, actor_api_key_id, source, subjects, payload, occurred_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::jsonb[], $10::timestamptz[])
     ON CONFLICT (id) DO NOTHING
     RETURNING *`,
    [
      batch.map((e) => e.id),
      batch.map((e) => e.type),
      batch.map((e) => e.organizationId),
      batch.map((e) => e.actor.kind),
      batch.map((e) => e.actor.userId),
      batch.map((e) => e.actor.apiKeyId),
      batch.map((e) => e.source),
      batch.map((e) => JSON.stringify(e.subjects)),
      batch.map((e) => JSON.stringify(e.payload)),
      batch.map((e) => e.occurredAt),
    ],
  );
  const recorded = rows.map(eventFromRaw).sort((a, b) => a.seq - b.seq);
  if (recorded.length === 0) return recorded;

  const organizations = [...new Set(recorded.map((e) => e.organizationId))];
  const { rows: endpoints } = await client.query<{
    id: string;
    organization_id: string;
    event_types: string[];
  }>(
    'SELECT id, organization_id, event_types FROM webhook_endpoints WHERE enabled AND organization_id = ANY($1)',
    [organizations],
  );
  const deliveries: { id: string; eventId: string; endpointId: string; organizationId: string }[] = [];
  for (const event of recorded) {
    for (const endpoint of endpoints) {
      if (endpoint.organization_id !== event.organizationId) continue;
      const wanted =
        event.type === TEST_EVENT
          ? event.subjects.webhookEndpointId === endpoint.id
          : endpoint.event_types.length === 0 || endpoint.event_types.includes(event.type);
      if (wanted) {
        deliveries.push({
          id: newId('whd'),
          eventId: event.id,
          endpointId: endpoint.id,
          organizationId: event.organizationId,
        });
      }
    }
  }
  if (deliveries.length > 0) {
    await client.query(
      `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, organization_id, next_attempt_at)
       SELECT d.*, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS d
       ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
      [
        deliveries.map((d) => d.id),
        deliveries.map((d) => d.eventId),
        deliveries.map((d) => d.endpointId),
        deliveries.map((d) => d.organizationId),
      ],
    );
  }
  return recorded;
}

interface RawEvent {
  id: string;
  seq: string;
  type: string;
  organization_id: string;
  actor_kind: EventRow['actorKind'];
  actor_user_id: string | null;
  actor_api_key_id: string | null;
  source: string;
  subjects: Record<string, string>;
  payload: Record<string, unknown>;
  occurred_at: Date;
  recorded_at: Date;
}

function eventFromRaw(row: RawEvent): EventRow {
  return {
    id: row.id,
    seq: Number(row.seq),
    type: row.type,
    organizationId: row.organization_id,
    actorKind: row.actor_kind,
    actorUserId: row.actor_user_id,
    actorApiKeyId: row.actor_api_key_id,
    source: row.source,
    subjects: row.subjects,
    payload: row.payload,
    occurredAt: row.occurred_at,
    recordedAt: row.recorded_at,
  };
}

/** The event as it was emitted and as a webhook receives it (see `WebhookEndpoint`'s description). */
export function platformEvent(row: EventRow): PlatformEvent {
  return {
    id: row.id,
    type: row.type as PlatformEvent['type'],
    organizationId: row.organizationId,
    actor: { kind: row.actorKind, userId: row.actorUserId, apiKeyId: row.actorApiKeyId },
    source: row.source,
    subjects: row.subjects,
    payload: row.payload,
    occurredAt: row.occurredAt.toISOString(),
  };
}

/**
 * Disables an endpoint, ends its pending deliveries and records `webhook_endpoint.disabled`
 * (in the log, and sent to the organization's other endpoints), all on `client`'s open
 * transaction. Returns that event, or null when the endpoint was already disabled.
 */
export async function disableEndpoint(
  client: pg.PoolClient,
  id: string,
  reason: DisabledReason,
  actor: Actor,
  details: Record<string, unknown> = {},
): Promise<EventRow | null> {
  const tx = queriesOn(client);
  const endpoint = await tx.lockEndpoint(id);
  if (!endpoint?.enabled) return null;
  await tx.updateEndpoint(id, { enabled: false, disabledReason: reason, disabledAt: new Date() });
  await tx.failPendingDeliveries(id);
  const [event] = await recordEvents(client, [
    {
      id: newId('evt'),
      type: 'webhook_endpoint.disabled',
      organizationId: endpoint.organizationId,
      actor,
      source: 'events',
      subjects: { webhookEndpointId: id },
      payload: { reason, url: endpoint.url, ...details },
      occurredAt: new Date().toISOString(),
    },
  ]);
  return event ?? null;
}

export function createEventsStorage(pool: pg.Pool) {
  return {
    pool,
    ...queries(drizzle({ client: pool })),
    /** Runs `work` in one transaction; `client` records events in it (`recordEvents`). */
    transaction<R>(work: (tx: EventsQueries, client: pg.PoolClient) => Promise<R>): Promise<R> {
      return inTransaction(pool, (client) => work(queriesOn(client), client));
    },
  };
}

export type EventsStorage = ReturnType<typeof createEventsStorage>;

/** Per request (and per subscription event): each batches the IDs asked for during one tick. */
export function createEventsLoaders(storage: EventsStorage) {
  return {
    event: new DataLoader<string, EventRow | null>(async (ids) => byId(ids, await storage.eventsByIds(ids))),
    endpoint: new DataLoader<string, WebhookEndpointRow | null>(async (ids) =>
      byId(ids, await storage.endpointsByIds(ids)),
    ),
    endpointsOfOrganization: new DataLoader<string, WebhookEndpointRow[]>(async (ids) => {
      const rows = await storage.endpointsOfOrganizations(ids);
      return ids.map((id) => rows.filter((row) => row.organizationId === id));
    }),
    delivery: new DataLoader<string, WebhookDeliveryRow | null>(async (ids) =>
      byId(ids, await storage.deliveriesByIds(ids)),
    ),
    attemptsOfDelivery: new DataLoader<string, WebhookDeliveryAttemptRow[]>(async (ids) => {
      const rows = await storage.attemptsOfDeliveries(ids);
      return ids.map((id) => rows.filter((row) => row.deliveryId === id));
    }),
  };
}

export type EventsLoaders = ReturnType<typeof createEventsLoaders>;
