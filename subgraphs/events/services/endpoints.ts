import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { WebhookDeliveryRow, WebhookEndpointRow } from '../../../db/events/schema';
import { newId } from '../../../db/ids';
import { actorOf, hasRole } from '../../common/caller';
import { refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import { isEventType } from '../../common/platform-events';
import type { EventsContext } from '../context';
import { checkUrl, RefusedTarget, resolveChecked } from '../delivery/ssrf';
import { disableEndpoint, type EndpointChanges, recordEvents, TEST_EVENT } from '../storage';
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
export const canManage = (ctx: EventsContext, organizationId: string) =>
  hasRole(ctx.caller, organizationId, 'ADMIN');

/** The endpoint, if it exists and the caller may read its organization's webhooks; null otherwise. */
export async function visibleEndpoint(ctx: EventsContext, id: string): Promise<WebhookEndpointRow | null> {
  const endpoint = await ctx.loaders.endpoint.load(id);
  return endpoint && canRead(ctx.caller, endpoint.organizationId) ? endpoint : null;
}

/** The endpoint's current signing secret, in clear (ADMIN and up only: the field checks). */
export function endpointSecret(ctx: EventsContext, endpoint: WebhookEndpointRow): string {
  return ctx.encryptor.decrypt(endpoint.secretEncrypted, endpoint.id);
}

/**
 * The endpoint a mutation names, if the caller may manage it: a userError for one they cannot
 * see (as if it did not exist), FORBIDDEN for a role too low.
 */
async function endpointForChange(
  ctx: EventsContext,
  id: unknown,
  field = 'id',
): Promise<{ endpoint: WebhookEndpointRow } | { userErrors: UserError[] }> {
  if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
  const parsed = endpointId.safeParse(id);
  if (!parsed.success) return { userErrors: [userError(['input', field], 'Not a webhook endpoint ID.')] };
  const endpoint = await visibleEndpoint(ctx, parsed.data);
  if (!endpoint) {
    return { userErrors: [userError(['input', field], 'No such webhook endpoint.', 'NOT_FOUND')] };
  }
  if (!canManage(ctx, endpoint.organizationId)) {
    throw refusal(ctx.caller, 'Managing webhooks takes the ADMIN role or higher in the organization.');
  }
  return { endpoint };
}

/**
 * A URL's problems as a user error on `input.url`: its form, and, when private networks are
 * not allowed, the addresses its name resolves to now. A name that does not resolve yet is
 * accepted (DNS may come later); every attempt checks again anyway.
 */
async function urlErrors(ctx: EventsContext, url: string): Promise<UserError[]> {
  const guard = { allowPrivateNetworks: ctx.settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS };
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

export async function createEndpoint(ctx: EventsContext, input: unknown): Promise<EndpointPayload> {
  if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
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
  if (!canRead(ctx.caller, values.organizationId)) {
    return {
      webhookEndpoint: null,
      userErrors: [userError(['input', 'organizationId'], 'No such organization.', 'NOT_FOUND')],
    };
  }
  if (!canManage(ctx, values.organizationId)) {
    throw refusal(ctx.caller, 'Managing webhooks takes the ADMIN role or higher in the organization.');
  }
  const urlProblems = await urlErrors(ctx, values.url);
  if (urlProblems.length > 0) return { webhookEndpoint: null, userErrors: urlProblems };

  const id = newId('whe');
  const limit = ctx.settings.WEBHOOK_ENDPOINTS_PER_ORGANIZATION;
  const webhookEndpoint = await ctx.storage.transaction(async (tx) => {
    await tx.lockOrganization(values.organizationId);
    if ((await tx.countEndpoints(values.organizationId)) >= limit) return null;
    return tx.insertEndpoint({
      id,
      organizationId: values.organizationId,
      url: values.url,
      description: values.description ?? '',
      eventTypes: values.eventTypes,
      secretEncrypted: ctx.encryptor.encrypt(newSecret(), id),
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
}

export async function updateEndpoint(ctx: EventsContext, input: unknown): Promise<EndpointPayload> {
  const parsed = z
    .object({
      id: z.string(),
      url: z.string().trim().nullish(),
      eventTypes: eventTypeList.nullish(),
      description: description.nullish(),
      enabled: z.boolean().nullish(),
    })
    .safeParse(input);
  if (!parsed.success) return { webhookEndpoint: null, userErrors: userErrorsFromZod(parsed.error) };
  const found = await endpointForChange(ctx, parsed.data.id);
  if ('userErrors' in found) return { webhookEndpoint: null, ...found };
  const { url, eventTypes, description: text, enabled } = parsed.data;
  if (url != null) {
    const urlProblems = await urlErrors(ctx, url);
    if (urlProblems.length > 0) return { webhookEndpoint: null, userErrors: urlProblems };
  }
  const changes: EndpointChanges = {};
  if (url != null) changes.url = url;
  if (eventTypes != null) changes.eventTypes = eventTypes;
  if (text != null) changes.description = text;
  const { webhookEndpoint, disabled } = await ctx.storage.transaction(async (tx, client) => {
    const disabled =
      enabled === false
        ? await disableEndpoint(client, found.endpoint.id, 'MANUAL', actorOf(ctx.caller))
        : null;
    // Re-enabling starts afresh: the failure streak that may have disabled it is forgotten.
    if (enabled === true && !found.endpoint.enabled) {
      Object.assign(changes, { enabled: true, disabledReason: null, disabledAt: null, failingSince: null });
    }
    return { webhookEndpoint: await tx.updateEndpoint(found.endpoint.id, changes), disabled };
  });
  if (disabled) ctx.recorded([disabled]);
  return { webhookEndpoint, userErrors: [] };
}

export async function rotateSecret(ctx: EventsContext, input: { id: string }): Promise<EndpointPayload> {
  const found = await endpointForChange(ctx, input.id);
  if ('userErrors' in found) return { webhookEndpoint: null, ...found };
  const { endpoint } = found;
  const overlapMs = ctx.settings.WEBHOOK_SECRET_OVERLAP_HOURS * 3_600_000;
  // The secret being replaced keeps signing beside the new one for a while, so receivers can
  // switch to the new secret without dropping a delivery (both signatures verify meanwhile).
  const webhookEndpoint = await ctx.storage.updateEndpoint(endpoint.id, {
    secretEncrypted: ctx.encryptor.encrypt(newSecret(), endpoint.id),
    previousSecretEncrypted: overlapMs > 0 ? endpoint.secretEncrypted : null,
    previousSecretExpiresAt: overlapMs > 0 ? new Date(Date.now() + overlapMs) : null,
  });
  return { webhookEndpoint, userErrors: [] };
}

export async function deleteEndpoint(
  ctx: EventsContext,
  input: { id: string },
): Promise<DeleteEndpointPayload> {
  const found = await endpointForChange(ctx, input.id);
  if ('userErrors' in found) return { deletedWebhookEndpointId: null, ...found };
  await ctx.storage.deleteEndpoint(found.endpoint.id);
  return { deletedWebhookEndpointId: found.endpoint.id, userErrors: [] };
}

const disabledError = userError(
  ['input', 'id'],
  'The endpoint is disabled; enable it before sending to it.',
  'CONFLICT',
);

export async function sendTestWebhook(ctx: EventsContext, input: { id: string }): Promise<DeliveryPayload> {
  const found = await endpointForChange(ctx, input.id);
  if ('userErrors' in found) return { delivery: null, ...found };
  const { endpoint } = found;
  if (!endpoint.enabled) return { delivery: null, userErrors: [disabledError] };
  const { recorded, delivery } = await ctx.storage.transaction(async (tx, client) => {
    const recorded = await recordEvents(client, [
      {
        id: newId('evt'),
        type: TEST_EVENT,
        organizationId: endpoint.organizationId,
        actor: actorOf(ctx.caller),
        source: 'events',
        subjects: { webhookEndpointId: endpoint.id },
        payload: { message: 'A test event sent from Construct: your endpoint receives webhooks.' },
        occurredAt: new Date().toISOString(),
      },
    ]);
    return { recorded, delivery: await tx.deliveryOf(recorded[0]!.id, endpoint.id) };
  });
  ctx.recorded(recorded);
  if (!delivery) return { delivery: null, userErrors: [disabledError] };
  return { delivery, userErrors: [] };
}

export async function redeliver(ctx: EventsContext, input: { deliveryId: string }): Promise<DeliveryPayload> {
  if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
  const notFound = {
    delivery: null,
    userErrors: [userError(['input', 'deliveryId'], 'No such delivery.', 'NOT_FOUND')],
  };
  if (!deliveryId.safeParse(input.deliveryId).success) {
    return { delivery: null, userErrors: [userError(['input', 'deliveryId'], 'Not a webhook delivery ID.')] };
  }
  const existing = await ctx.loaders.delivery.load(input.deliveryId);
  if (!existing || !canRead(ctx.caller, existing.organizationId)) return notFound;
  if (!canManage(ctx, existing.organizationId)) {
    throw refusal(ctx.caller, 'Managing webhooks takes the ADMIN role or higher in the organization.');
  }
  const endpoint = await ctx.loaders.endpoint.load(existing.endpointId);
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
  const delivery = await ctx.storage.redeliver(existing.id);
  ctx.dispatcher.wake();
  return delivery ? { delivery, userErrors: [] } : notFound;
}
