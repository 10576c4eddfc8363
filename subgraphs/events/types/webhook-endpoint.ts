import type { WebhookEndpointRow } from '../../../db/events/schema';
import { builder } from '../builder';
import { WebhookDeliveryStatusEnum, WebhookEndpointDisabledReasonEnum } from './enums';
import { OrganizationRef } from './organization';
import { WebhookDeliveryType } from './webhook-delivery';

export const WebhookEndpointType = builder.objectRef<WebhookEndpointRow>('WebhookEndpoint').implement({
  description: [
    'A URL that receives the organization’s events as they happen (readable from VIEWER up, managed from ADMIN up).',
    '',
    'Each event is a `POST` with `content-type: application/json` and `user-agent: Construct-Webhooks/1`, and a body',
    'that is the event as JSON: `{"id", "type", "organizationId", "actor": {"kind", "userId", "apiKeyId"},',
    '"subjects", "payload", "occurredAt"}`. It is signed per Standard Webhooks (standardwebhooks.com): the',
    '`webhook-id` header is the event id (the same for every retry and redelivery: deduplicate by it),',
    '`webhook-timestamp` the attempt’s Unix time, and `webhook-signature` one `v1,<base64 HMAC-SHA256>` per',
    'secret, space-separated (two during the day after a rotation). Verify with any Standard Webhooks library',
    'and `secret`.',
    '',
    'Answer with a 2xx status within 15 seconds. Anything else (a redirect too: they are not followed) is',
    'retried after about 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h, about three days in all, later',
    'if you send `Retry-After`. Answering 410 Gone disables the endpoint at once; an endpoint failing for 5 days',
    'without a success is disabled too. Either records a `webhook_endpoint.disabled` event. (These are the',
    'defaults; a server may be configured otherwise.)',
  ].join('\n'),
  authScopes: (endpoint) => ({ role: { organizationId: endpoint.organizationId, atLeast: 'VIEWER' } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`whe_…`).' }),
    organization: t.field({
      type: OrganizationRef,
      // Resolved by accounts: nullable so an accounts outage degrades only this field.
      nullable: true,
      description: 'The organization whose events it receives.',
      resolve: (endpoint) => ({ id: endpoint.organizationId }),
    }),
    url: t.exposeString('url', { description: 'Where events are POSTed (http or https).' }),
    description: t.exposeString('description', { description: 'A note for people; empty if none.' }),
    eventTypes: t.exposeStringList('eventTypes', {
      description:
        'The event types it receives; empty for every type. `webhook.test` events go only to the endpoint they were sent to.',
    }),
    enabled: t.exposeBoolean('enabled', { description: 'Whether events are delivered to it.' }),
    disabledReason: t.field({
      type: WebhookEndpointDisabledReasonEnum,
      nullable: true,
      description: 'Why it is disabled; null while enabled.',
      resolve: (endpoint) => endpoint.disabledReason,
    }),
    disabledAt: t.expose('disabledAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it was disabled; null while enabled.',
    }),
    failingSince: t.expose('failingSince', {
      type: 'DateTime',
      nullable: true,
      description: 'The first failed attempt since its last success; null while deliveries succeed.',
    }),
    secret: t.string({
      // Null (with a FORBIDDEN error) for roles below ADMIN: the rest of the endpoint stays readable.
      nullable: true,
      authScopes: (endpoint) => ({ role: { organizationId: endpoint.organizationId, atLeast: 'ADMIN' } }),
      description:
        'The signing secret (`whsec_…`) to verify deliveries with (ADMIN and up). `rotateWebhookSecret` replaces it.',
      resolve: (endpoint, _, ctx) => ctx.services.endpoints.secret(ctx, endpoint),
    }),
    deliveries: t.connection(
      {
        type: WebhookDeliveryType,
        description: 'Events delivered or being delivered to it, newest first.',
        args: {
          status: t.arg({
            type: [WebhookDeliveryStatusEnum],
            required: false,
            description: 'Only deliveries in one of these statuses.',
          }),
        },
        resolve: (endpoint, args, ctx) => ctx.services.endpoints.deliveries(ctx, endpoint, args),
      },
      { name: 'WebhookDeliveryConnection', description: 'A page of webhook deliveries.' },
      { name: 'WebhookDeliveryEdge', description: 'A delivery in a page of webhook deliveries.' },
    ),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When its settings last changed.' }),
  }),
});

builder.objectField(WebhookDeliveryType, 'endpoint', (t) =>
  t.field({
    type: WebhookEndpointType,
    description: 'The endpoint it goes to.',
    resolve: (delivery, _, ctx) => ctx.services.endpoints.endpointOf(ctx, delivery),
  }),
);

builder.asEntity(WebhookEndpointType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => ctx.services.endpoints.visible(ctx, ref.id),
});

OrganizationRef.implement({
  description: 'A team: the owner of projects, domains and billing, with members in roles.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`org_…`).' }),
    webhookEndpoints: t.field({
      type: [WebhookEndpointType],
      // Added to an accounts type: nullable so an events outage leaves the organization readable.
      nullable: true,
      authScopes: (organization) => ({ role: { organizationId: organization.id, atLeast: 'VIEWER' } }),
      description:
        'Its webhook endpoints, oldest first (members from VIEWER up). An organization has a few (20 by default), so they are not paged.',
      resolve: (organization, _, ctx) => ctx.services.endpoints.ofOrganization(ctx, organization.id),
    }),
  }),
});

builder.queryFields((t) => ({
  webhookEndpoint: t.field({
    type: WebhookEndpointType,
    nullable: true,
    description:
      'The webhook endpoint with this ID, or null if there is none or you cannot read its organization’s.',
    args: { id: t.arg.id({ required: true, description: 'The endpoint’s ID.' }) },
    resolve: (_, { id }, ctx) => ctx.services.endpoints.visible(ctx, id),
  }),
}));
