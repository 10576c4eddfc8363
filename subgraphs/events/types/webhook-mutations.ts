import { builder } from '../builder';
import type { DeleteEndpointPayload, DeliveryPayload, EndpointPayload } from '../services/endpoints';
import { payloadType } from './payloads';
import { WebhookDeliveryType } from './webhook-delivery';
import { WebhookEndpointType } from './webhook-endpoint';

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  description: 'A new webhook endpoint.',
  fields: (t) => ({
    organizationId: t.id({ required: true, description: 'The organization whose events it receives.' }),
    url: t.string({
      required: true,
      description:
        'Where to POST events: an absolute http(s) URL of at most 2048 characters, without credentials, on a public address.',
    }),
    eventTypes: t.stringList({
      required: true,
      description: 'The event types to receive (names from `eventTypes`); empty for every type.',
    }),
    description: t.string({ description: 'A note for people, at most 500 characters.' }),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  description: 'Changes to a webhook endpoint; fields left out stay as they are.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The endpoint to change.' }),
    url: t.string({ description: 'A new URL (same rules as at creation).' }),
    eventTypes: t.stringList({ description: 'The event types to receive; empty for every type.' }),
    description: t.string({ description: 'A note for people, at most 500 characters.' }),
    enabled: t.boolean({
      description:
        'False stops deliveries (pending ones become FAILED); true resumes them and forgets the failures that disabled it.',
    }),
  }),
});

const endpointInput = (name: string, description: string) =>
  builder.inputType(name, {
    description,
    fields: (t) => ({ id: t.id({ required: true, description: 'The webhook endpoint’s ID.' }) }),
  });

const RotateWebhookSecretInput = endpointInput(
  'RotateWebhookSecretInput',
  'The endpoint whose secret to replace.',
);
const DeleteWebhookEndpointInput = endpointInput('DeleteWebhookEndpointInput', 'The endpoint to delete.');
const SendTestWebhookInput = endpointInput('SendTestWebhookInput', 'The endpoint to send a test event to.');

const RedeliverWebhookInput = builder.inputType('RedeliverWebhookInput', {
  description: 'The delivery to attempt again.',
  fields: (t) => ({ deliveryId: t.id({ required: true, description: 'The webhook delivery’s ID.' }) }),
});

const EndpointResult = {
  field: 'webhookEndpoint',
  type: WebhookEndpointType,
  description: 'The endpoint, or null if the input was refused.',
} as const;

const DeliveryResult = {
  field: 'delivery',
  type: WebhookDeliveryType,
  description: 'The delivery, or null if the input was refused.',
} as const;

const CreatePayload = payloadType<EndpointPayload>(
  'CreateWebhookEndpointPayload',
  'The result of `createWebhookEndpoint`.',
  EndpointResult,
);
const UpdatePayload = payloadType<EndpointPayload>(
  'UpdateWebhookEndpointPayload',
  'The result of `updateWebhookEndpoint`.',
  EndpointResult,
);
const RotatePayload = payloadType<EndpointPayload>(
  'RotateWebhookSecretPayload',
  'The result of `rotateWebhookSecret`.',
  EndpointResult,
);
const DeletePayload = payloadType<DeleteEndpointPayload>(
  'DeleteWebhookEndpointPayload',
  'The result of `deleteWebhookEndpoint`.',
  {
    field: 'deletedWebhookEndpointId',
    type: 'ID',
    description: 'The ID of the deleted endpoint, or null if the input was refused.',
  },
);
const SendTestPayload = payloadType<DeliveryPayload>(
  'SendTestWebhookPayload',
  'The result of `sendTestWebhook`.',
  DeliveryResult,
);
const RedeliverPayload = payloadType<DeliveryPayload>(
  'RedeliverWebhookPayload',
  'The result of `redeliverWebhook`.',
  DeliveryResult,
);

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.field({
    type: CreatePayload,
    description:
      'Creates a webhook endpoint with a new signing secret (ADMIN and up). Invalid URLs and unknown event types come back as userErrors.',
    args: {
      input: t.arg({ type: CreateWebhookEndpointInput, required: true, description: 'The endpoint.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.endpoints.create(ctx, input),
  }),
  updateWebhookEndpoint: t.field({
    type: UpdatePayload,
    description:
      'Changes a webhook endpoint’s URL, event types or description, or disables or enables it (ADMIN and up).',
    args: { input: t.arg({ type: UpdateWebhookEndpointInput, required: true, description: 'The changes.' }) },
    resolve: (_, { input }, ctx) => ctx.services.endpoints.update(ctx, input),
  }),
  rotateWebhookSecret: t.field({
    type: RotatePayload,
    description:
      'Replaces an endpoint’s signing secret (ADMIN and up). For 24 hours deliveries carry a signature by the old secret too, so receivers can switch without missing one.',
    args: { input: t.arg({ type: RotateWebhookSecretInput, required: true, description: 'The endpoint.' }) },
    resolve: (_, { input }, ctx) => ctx.services.endpoints.rotateSecret(ctx, input),
  }),
  deleteWebhookEndpoint: t.field({
    type: DeletePayload,
    description: 'Deletes a webhook endpoint with its deliveries (ADMIN and up); nothing more is sent to it.',
    args: {
      input: t.arg({ type: DeleteWebhookEndpointInput, required: true, description: 'The endpoint.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.endpoints.delete(ctx, input),
  }),
  sendTestWebhook: t.field({
    type: SendTestPayload,
    description:
      'Records a `webhook.test` event and delivers it to this endpoint only, like any other event (ADMIN and up).',
    args: { input: t.arg({ type: SendTestWebhookInput, required: true, description: 'The endpoint.' }) },
    resolve: (_, { input }, ctx) => ctx.services.endpoints.sendTest(ctx, input),
  }),
  redeliverWebhook: t.field({
    type: RedeliverPayload,
    description:
      'Attempts a delivery again now, with the same `webhook-id`, whether it succeeded, failed or is pending (ADMIN and up). If it fails, it is retried on the schedule from the start.',
    args: { input: t.arg({ type: RedeliverWebhookInput, required: true, description: 'The delivery.' }) },
    resolve: (_, { input }, ctx) => ctx.services.endpoints.redeliver(ctx, input),
  }),
}));
