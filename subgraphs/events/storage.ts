import DataLoader from 'dataloader';
import { and, asc, count, eq, inArray, type SQL, sql } from 'drizzle-orm';
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
import type { Scope } from '../common/context';
import { byId } from '../common/loaders';
import { keyset, type PageQuery } from '../common/pagination';
import type { PlatformEvent } from '../common/platform-events';
import { createStorage, type Database } from '../common/storage';

/** `webhook.test` goes to the one endpoint named in its subjects, never to every endpoint. */
export const TEST_EVENT = 'webhook.test';

/** A cursor of `events` is a recording sequence number; anything else matches nothing. */
const seqOf = (cursor: string) => (/^\d{1,18}$/.test(cursor) ? Number(cursor) : -1);

/**
 * One array bound as one parameter (drizzle would spread it into a list): `unnest` inserts a
 * whole batch with a fixed number of parameters, however large the batch.
 */
const array = (values: unknown[]): SQL => sql`${sql.param(values)}`;

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

type RawEvent = {
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
  // drizzle hands raw timestamps over as PostgreSQL prints them.
  occurred_at: string;
  recorded_at: string;
};

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
    occurredAt: new Date(row.occurred_at),
    recordedAt: new Date(row.recorded_at),
  };
}

function queries(db: Database) {
  async function lockEndpoint(id: string): Promise<WebhookEndpointRow | null> {
    const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).for('update');
    return row ?? null;
  }

  async function updateEndpoint(id: string, changes: EndpointChanges): Promise<WebhookEndpointRow | null> {
    const [row] = await db
      .update(webhookEndpoints)
      .set({ ...changes, updatedAt: new Date() })
      .where(eq(webhookEndpoints.id, id))
      .returning();
    return row ?? null;
  }

  /**
   * Records events once each by id and, for those new to the log, creates their deliveries to
   * the organization's enabled endpoints subscribed to their type. Two statements: call it
   * inside `transaction`, so the deliveries commit with their events. Returns the events it
   * recorded (those already in the log are left out), in recording order.
   */
  async function recordEvents(batch: PlatformEvent[]): Promise<EventRow[]> {
    if (batch.length === 0) return [];
    const { rows } = await db.execute<RawEvent>(sql`
      INSERT INTO events (id, type, organization_id, actor_kind, actor_user_id, actor_api_key_id, source, subjects, payload, occurred_at)
      SELECT * FROM unnest(
        ${array(batch.map((e) => e.id))}::text[], ${array(batch.map((e) => e.type))}::text[],
        ${array(batch.map((e) => e.organizationId))}::text[], ${array(batch.map((e) => e.actor.kind))}::text[],
        ${array(batch.map((e) => e.actor.userId))}::text[], ${array(batch.map((e) => e.actor.apiKeyId))}::text[],
        ${array(batch.map((e) => e.source))}::text[], ${array(batch.map((e) => JSON.stringify(e.subjects)))}::jsonb[],
        ${array(batch.map((e) => JSON.stringify(e.payload)))}::jsonb[], ${array(batch.map((e) => e.occurredAt))}::timestamptz[]
      )
      ON CONFLICT (id) DO NOTHING
      RETURNING *`);
    const recorded = rows.map(eventFromRaw).sort((a, b) => a.seq - b.seq);
    if (recorded.length === 0) return recorded;

    const organizations = [...new Set(recorded.map((e) => e.organizationId))];
    const endpoints = await db
      .select({
        id: webhookEndpoints.id,
        organizationId: webhookEndpoints.organizationId,
        eventTypes: webhookEndpoints.eventTypes,
      })
      .from(webhookEndpoints)
      .where(
        and(eq(webhookEndpoints.enabled, true), inArray(webhookEndpoints.organizationId, organizations)),
      );
    const deliveries: { id: string; eventId: string; endpointId: string; organizationId: string }[] = [];
    for (const event of recorded) {
      for (const endpoint of endpoints) {
        if (endpoint.organizationId !== event.organizationId) continue;
        const wanted =
          event.type === TEST_EVENT
            ? event.subjects.webhookEndpointId === endpoint.id
            : endpoint.eventTypes.length === 0 || endpoint.eventTypes.includes(event.type);
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
      await db.execute(sql`
        INSERT INTO webhook_deliveries (id, event_id, endpoint_id, organization_id, next_attempt_at)
        SELECT d.*, now() FROM unnest(
          ${array(deliveries.map((d) => d.id))}::text[], ${array(deliveries.map((d) => d.eventId))}::text[],
          ${array(deliveries.map((d) => d.endpointId))}::text[], ${array(deliveries.map((d) => d.organizationId))}::text[]
        ) AS d
        ON CONFLICT (event_id, endpoint_id) DO NOTHING`);
    }
    return recorded;
  }

  /** Ends every pending delivery of a disabled endpoint: they are FAILED, nothing more is sent. */
  async function failPendingDeliveries(endpointId: string): Promise<void> {
    await db
      .update(webhookDeliveries)
      .set({ status: 'FAILED', nextAttemptAt: null, updatedAt: new Date() })
      .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'PENDING')));
  }

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
      const { where, order } = keyset(events.seq, page, { newestFirst: true, cast: seqOf });
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
    recordEvents,

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
    updateEndpoint,
    lockEndpoint,
    async deleteEndpoint(id: string): Promise<void> {
      await db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
    },
    /**
     * Disables an endpoint, ends its pending deliveries and records `webhook_endpoint.disabled`
     * (in the log, and sent to the organization's other endpoints): call it inside `transaction`.
     * Returns that event, or null when the endpoint was already disabled.
     */
    async disableEndpoint(
      id: string,
      reason: DisabledReason,
      actor: Actor,
      details: Record<string, unknown> = {},
    ): Promise<EventRow | null> {
      const endpoint = await lockEndpoint(id);
      if (!endpoint?.enabled) return null;
      await updateEndpoint(id, { enabled: false, disabledReason: reason, disabledAt: new Date() });
      await failPendingDeliveries(id);
      const [event] = await recordEvents([
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
      const { where, order } = keyset(webhookDeliveries.id, page, { newestFirst: true });
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
  };
}

export type EventsQueries = ReturnType<typeof queries>;

/** Everything the events subgraph reads and writes in its own database. */
export const createEventsStorage = (pool: pg.Pool) => createStorage(pool, queries);

export type EventsStorage = ReturnType<typeof createEventsStorage>;

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

/** What the events subgraph's service methods take first: the caller and this operation's loaders. */
export type EventsScope = Scope<EventsLoaders>;
