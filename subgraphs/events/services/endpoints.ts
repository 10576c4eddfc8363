import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type {
  DeliveryStatus,
  EventRow,
  WebhookDeliveryAttemptRow,
  WebhookDeliveryRow,
  WebhookEndpointRow,
} from '../../../db/events/schema';
import { newId } from '../../../db/ids';
import { actorOf, type Caller, hasRole } from '../../common/caller';
import type { Encryptor } from '../../common/encryption';
import { graphqlError, refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import { type Connection, type ConnectionArgs, keysetConnection } from '../../common/pagination';
import { isEventType } from '../../common/platform-events';
import { checkUrl, RefusedTarget, resolveChecked } from '../../common/ssrf';
import type { EventsSettings } from '../config';
import type { Dispatcher } from '../delivery/dispatcher';
import { type EndpointChanges, type EventsScope, type EventsStorage, TEST_EVENT } from '../storage';
import { canRead } from './events';

const endpointId = z.string().regex(/^whe_[0-9A-Z]{26}$/, 'Not a webhook endpoint ID.');
const deliveryId = z.string().regex(/^whd_[0-9A-Z]{26}$/, 'Not a webhook delivery ID.');
const organizationId = z.string().regex(/^org_[0-9A-Z]{26}$/, 'Not an organization ID.');

const eventTypeList = z
  .array(z.string())
  .max(100, 'List at most 100 event types.')
  .superRefine((types, ctx) => {
    const unknown = types.filter((type) => !isEventType(type));
    if (unknown.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `Unknown event types: ${unknown.slice(0, 5).join(', ')}. Known types are listed by \`eventTypes\`.`,
      });
    }
  })
  .transform((types) => [...new Set(types)].sort());

const description = z.string().trim().max(500, 'Use at most 500 characters.');

export interface CreateWebhookEndpointInput {
  organizationId: string;
  url: string;
  eventTypes: string[];
  description?: string | null;
}

export interface UpdateWebhookEndpointInput {
  id: string;
  url?: string | null;
  eventTypes?: string[] | null;
  description?: string | null;
  enabled?: boolean | null;
}

export interface DeliveriesArgs extends ConnectionArgs {
  status?: readonly DeliveryStatus[] | null;
}

export interface EndpointPayload {
  webhookEndpoint: WebhookEndpointRow | null;
  userErrors: UserError[];
}

export interface DeliveryPayload {
  delivery: WebhookDeliveryRow | null;
  userErrors: UserError[];
}

export interface DeleteEndpointPayload {
  deletedWebhookEndpointId: string | null;
  userErrors: UserError[];
}

/** A fresh signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes, base64. */
export const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** Whether the caller may manage the organization's webhooks: ADMIN and up, users or ADMIN-scoped keys. */
export const canManage = (caller: Caller, organizationId: string) => hasRole(caller, organizationId, 'ADMIN');

const manageRefusal = (caller: Caller) =>
  refusal(caller, 'Managing webhooks takes the ADMIN role or higher in the organization.');

const disabledError = userError(
  ['input', 'id'],
  'The endpoint is disabled; enable it before sending to it.',
  'CONFLICT',
);

export interface EndpointsDependencies {
  storage: EventsStorage;
  /** Encrypts signing secrets at rest, each bound to its endpoint's id. */
  encryptor: Encryptor;
  /** Told when a redelivery is due now, so it goes out without waiting for the next poll. */
  dispatcher: Pick<Dispatcher, 'wake'>;
  /** After the commit that recorded them: tells subscribers and wakes the delivery workers. */
  recorded(events: EventRow[]): void;
  settings: Pick<
    EventsSettings,
    'WEBHOOKS_ALLOW_PRIVATE_NETWORKS' | 'WEBHOOK_ENDPOINTS_PER_ORGANIZATION' | 'WEBHOOK_SECRET_OVERLAP_HOURS'
  >;
}

/**
 * Webhook endpoints and their deliveries: who may read them (VIEWER and up), who may manage
 * them and their secrets (ADMIN and up), and the changes, tests and redeliveries they ask for.
 */
export function createEndpointsService({
  storage,
  encryptor,
  dispatcher,
  recorded,
  settings,
}: EndpointsDependencies) {
  /** The endpoint, if it exists and the caller may read its organization's webhooks; null otherwise. */
  async function visible(scope: EventsScope, id: string): Promise<WebhookEndpointRow | null> {
    const endpoint = await scope.loaders.endpoint.load(id);
    return endpoint && canRead(scope.caller, endpoint.organizationId) ? endpoint : null;
  }

  /** The delivery, if it exists and the caller may read its organization's webhooks; null otherwise. */
  async function visibleDelivery(scope: EventsScope, id: string): Promise<WebhookDeliveryRow | null> {
    const delivery = await scope.loaders.delivery.load(id);
    return delivery && canRead(scope.caller, delivery.organizationId) ? delivery : null;
  }

  /**
   * The endpoint a mutation names, if the caller may manage it: a userError for one they cannot
   * see (as if it did not exist), FORBIDDEN for a role too low.
   */
  async function endpointForChange(
    scope: EventsScope,
    id: string,
  ): Promise<{ endpoint: WebhookEndpointRow } | { userErrors: UserError[] }> {
    if (scope.caller.kind === 'anonymous') throw refusal(scope.caller);
    const parsed = endpointId.safeParse(id);
    if (!parsed.success) return { userErrors: [userError(['input', 'id'], 'Not a webhook endpoint ID.')] };
    const endpoint = await visible(scope, parsed.data);
    if (!endpoint) {
      return { userErrors: [userError(['input', 'id'], 'No such webhook endpoint.', 'NOT_FOUND')] };
    }
    if (!canManage(scope.caller, endpoint.organizationId)) throw manageRefusal(scope.caller);
    return { endpoint };
  }

  /** After a change: the rest of the operation (a delivery's `endpoint`) reads the endpoint as it is now. */
  function fresh(scope: EventsScope, endpoint: WebhookEndpointRow | null) {
    if (endpoint) scope.loaders.endpoint.clear(endpoint.id).prime(endpoint.id, endpoint);
  }

  /**
   * A URL's problems as a user error on `input.url`: its form, and, when private networks are
   * not allowed, the addresses its name resolves to now. A name that does not resolve yet is
   * accepted (DNS may come later); every attempt checks again anyway.
   */
  async function urlErrors(url: string): Promise<UserError[]> {
    const guard = { allowPrivateNetworks: settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS };
    const checked = checkUrl(url, guard);
    if (!checked.ok) return [userError(['input', 'url'], checked.message)];
    if (guard.allowPrivateNetworks) return [];
    try {
      await resolveChecked(checked.url.hostname, guard);
    } catch (error) {
      if (error instanceof RefusedTarget) {
        return [
          userError(
            ['input', 'url'],
            'The URL’s host resolves to a private or reserved address; use a public one.',
          ),
        ];
      }
    }
    return [];
  }

  return {
    visible,
    visibleDelivery,

    /** The organization's endpoints, oldest first; none for a caller who may not read them. */
    async ofOrganization(scope: EventsScope, organizationId: string): Promise<WebhookEndpointRow[]> {
      if (!canRead(scope.caller, organizationId)) return [];
      return scope.loaders.endpointsOfOrganization.load(organizationId);
    },

    /** The endpoint's current signing secret, in clear: ADMIN and up only. */
    secret(scope: EventsScope, endpoint: WebhookEndpointRow): string {
      if (!canManage(scope.caller, endpoint.organizationId)) throw manageRefusal(scope.caller);
      return encryptor.decrypt(endpoint.secretEncrypted, endpoint.id);
    },

    /** The endpoint's deliveries, newest first; none for a caller who may not read them. */
    deliveries(
      scope: EventsScope,
      endpoint: WebhookEndpointRow,
      { status, ...args }: DeliveriesArgs,
    ): Promise<Connection<WebhookDeliveryRow>> {
      if (!canRead(scope.caller, endpoint.organizationId)) return keysetConnection(args, async () => []);
      return keysetConnection(args, (page) =>
        storage.deliveriesOfEndpoint(endpoint.id, status ? [...status] : undefined, page),
      );
    },

    /** The event a delivery carries: always there (deliveries reference it), and as readable as the delivery. */
    async eventOf(scope: EventsScope, delivery: WebhookDeliveryRow): Promise<EventRow> {
      const event = await scope.loaders.event.load(delivery.eventId);
      if (!event) throw graphqlError('INTERNAL_SERVER_ERROR', 'The delivered event is missing.');
      return event;
    },

    /** The endpoint a delivery goes to: deliveries go with their endpoint, so it is there. */
    async endpointOf(scope: EventsScope, delivery: WebhookDeliveryRow): Promise<WebhookEndpointRow> {
      return (await scope.loaders.endpoint.load(delivery.endpointId))!;
    },

    /** Every attempt of a delivery, first to last. */
    attempts(scope: EventsScope, delivery: WebhookDeliveryRow): Promise<WebhookDeliveryAttemptRow[]> {
      return scope.loaders.attemptsOfDelivery.load(delivery.id);
    },

    async create(scope: EventsScope, input: CreateWebhookEndpointInput): Promise<EndpointPayload> {
      const { caller } = scope;
      if (caller.kind === 'anonymous') throw refusal(caller);
      const parsed = z
        .object({
          organizationId,
          url: z.string().trim(),
          eventTypes: eventTypeList,
          description: description.nullish(),
        })
        .safeParse(input);
      if (!parsed.success) return { webhookEndpoint: null, userErrors: userErrorsFromZod(parsed.error) };
      const values = parsed.data;
      if (!canRead(caller, values.organizationId)) {
        return {
          webhookEndpoint: null,
          userErrors: [userError(['input', 'organizationId'], 'No such organization.', 'NOT_FOUND')],
        };
      }
      if (!canManage(caller, values.organizationId)) throw manageRefusal(caller);
      const urlProblems = await urlErrors(values.url);
      if (urlProblems.length > 0) return { webhookEndpoint: null, userErrors: urlProblems };

      const id = newId('whe');
      const limit = settings.WEBHOOK_ENDPOINTS_PER_ORGANIZATION;
      const webhookEndpoint = await storage.transaction(async (tx) => {
        await tx.lockOrganization(values.organizationId);
        if ((await tx.countEndpoints(values.organizationId)) >= limit) return null;
        return tx.insertEndpoint({
          id,
          organizationId: values.organizationId,
          url: values.url,
          description: values.description ?? '',
          eventTypes: values.eventTypes,
          secretEncrypted: encryptor.encrypt(newSecret(), id),
        });
      });
      if (!webhookEndpoint) {
        return {
          webhookEndpoint: null,
          userErrors: [
            userError(
              ['input', 'organizationId'],
              `An organization has at most ${limit} webhook endpoints; delete one first.`,
              'LIMIT_REACHED',
            ),
          ],
        };
      }
      return { webhookEndpoint, userErrors: [] };
    },

    async update(scope: EventsScope, input: UpdateWebhookEndpointInput): Promise<EndpointPayload> {
      const parsed = z
        .object({
          url: z.string().trim().nullish(),
          eventTypes: eventTypeList.nullish(),
          description: description.nullish(),
        })
        .safeParse(input);
      if (!parsed.success) return { webhookEndpoint: null, userErrors: userErrorsFromZod(parsed.error) };
      const found = await endpointForChange(scope, input.id);
      if ('userErrors' in found) return { webhookEndpoint: null, ...found };
      const { url, eventTypes, description: text } = parsed.data;
      if (url != null) {
        const urlProblems = await urlErrors(url);
        if (urlProblems.length > 0) return { webhookEndpoint: null, userErrors: urlProblems };
      }
      const changes: EndpointChanges = {};
      if (url != null) changes.url = url;
      if (eventTypes != null) changes.eventTypes = eventTypes;
      if (text != null) changes.description = text;
      const { webhookEndpoint, disabled } = await storage.transaction(async (tx) => {
        const disabled =
          input.enabled === false
            ? await tx.disableEndpoint(found.endpoint.id, 'MANUAL', actorOf(scope.caller))
            : null;
        // Re-enabling starts afresh: the failure streak that may have disabled it is forgotten.
        if (input.enabled === true && !found.endpoint.enabled) {
          Object.assign(changes, {
            enabled: true,
            disabledReason: null,
            disabledAt: null,
            failingSince: null,
          });
        }
        return { webhookEndpoint: await tx.updateEndpoint(found.endpoint.id, changes), disabled };
      });
      if (disabled) recorded([disabled]);
      fresh(scope, webhookEndpoint);
      return { webhookEndpoint, userErrors: [] };
    },

    /**
     * Replaces the signing secret. The one replaced keeps signing beside the new one for the
     * overlap, so receivers switch to the new secret without dropping a delivery (both
     * signatures verify meanwhile).
     */
    async rotateSecret(scope: EventsScope, input: { id: string }): Promise<EndpointPayload> {
      const found = await endpointForChange(scope, input.id);
      if ('userErrors' in found) return { webhookEndpoint: null, ...found };
      const { endpoint } = found;
      const overlapMs = settings.WEBHOOK_SECRET_OVERLAP_HOURS * 3_600_000;
      const webhookEndpoint = await storage.updateEndpoint(endpoint.id, {
        secretEncrypted: encryptor.encrypt(newSecret(), endpoint.id),
        previousSecretEncrypted: overlapMs > 0 ? endpoint.secretEncrypted : null,
        previousSecretExpiresAt: overlapMs > 0 ? new Date(Date.now() + overlapMs) : null,
      });
      fresh(scope, webhookEndpoint);
      return { webhookEndpoint, userErrors: [] };
    },

    async delete(scope: EventsScope, input: { id: string }): Promise<DeleteEndpointPayload> {
      const found = await endpointForChange(scope, input.id);
      if ('userErrors' in found) return { deletedWebhookEndpointId: null, ...found };
      await storage.deleteEndpoint(found.endpoint.id);
      return { deletedWebhookEndpointId: found.endpoint.id, userErrors: [] };
    },

    /** Records a `webhook.test` event, delivered to this endpoint only. */
    async sendTest(scope: EventsScope, input: { id: string }): Promise<DeliveryPayload> {
      const found = await endpointForChange(scope, input.id);
      if ('userErrors' in found) return { delivery: null, ...found };
      const { endpoint } = found;
      if (!endpoint.enabled) return { delivery: null, userErrors: [disabledError] };
      const { events, delivery } = await storage.transaction(async (tx) => {
        const events = await tx.recordEvents([
          {
            id: newId('evt'),
            type: TEST_EVENT,
            organizationId: endpoint.organizationId,
            actor: actorOf(scope.caller),
            source: 'events',
            subjects: { webhookEndpointId: endpoint.id },
            payload: { message: 'A test event sent from Construct: your endpoint receives webhooks.' },
            occurredAt: new Date().toISOString(),
          },
        ]);
        return { events, delivery: await tx.deliveryOf(events[0]!.id, endpoint.id) };
      });
      recorded(events);
      // Disabled meanwhile: the event was recorded, but no delivery was made for it.
      if (!delivery) return { delivery: null, userErrors: [disabledError] };
      return { delivery, userErrors: [] };
    },

    /** Makes a delivery due now again, whatever its state, with its retry schedule starting over. */
    async redeliver(scope: EventsScope, input: { deliveryId: string }): Promise<DeliveryPayload> {
      const { caller } = scope;
      if (caller.kind === 'anonymous') throw refusal(caller);
      const notFound = {
        delivery: null,
        userErrors: [userError(['input', 'deliveryId'], 'No such delivery.', 'NOT_FOUND')],
      };
      if (!deliveryId.safeParse(input.deliveryId).success) {
        return {
          delivery: null,
          userErrors: [userError(['input', 'deliveryId'], 'Not a webhook delivery ID.')],
        };
      }
      const existing = await visibleDelivery(scope, input.deliveryId);
      if (!existing) return notFound;
      if (!canManage(caller, existing.organizationId)) throw manageRefusal(caller);
      const endpoint = await scope.loaders.endpoint.load(existing.endpointId);
      if (!endpoint?.enabled) {
        return {
          delivery: null,
          userErrors: [
            userError(
              ['input', 'deliveryId'],
              'Its endpoint is disabled; enable it before redelivering.',
              'CONFLICT',
            ),
          ],
        };
      }
      const delivery = await storage.redeliver(existing.id);
      dispatcher.wake();
      return delivery ? { delivery, userErrors: [] } : notFound;
    },
  };
}

export type EndpointsService = ReturnType<typeof createEndpointsService>;
