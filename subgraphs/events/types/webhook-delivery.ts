import type { WebhookDeliveryRow } from '../../../db/events/schema';
import { builder } from '../builder';
import { WebhookDeliveryStatusEnum } from './enums';
import { EventType } from './event';
import { WebhookDeliveryAttemptType } from './webhook-delivery-attempt';

export const WebhookDeliveryType = builder.objectRef<WebhookDeliveryRow>('WebhookDelivery').implement({
  description:
    'One event on its way to one webhook endpoint: attempted until the endpoint answers 2xx or the retry schedule (about three days by default) runs out.',
  authScopes: (delivery) => ({ role: { organizationId: delivery.organizationId, atLeast: 'VIEWER' } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`whd_…`).' }),
    event: t.field({
      type: EventType,
      description: 'The event delivered.',
      resolve: (delivery, _, ctx) => ctx.services.endpoints.eventOf(ctx, delivery),
    }),
    status: t.field({
      type: WebhookDeliveryStatusEnum,
      description: 'Where it stands.',
      resolve: (delivery) => delivery.status,
    }),
    attemptCount: t.exposeInt('attemptCount', {
      description: 'Attempts made so far (redeliveries included).',
    }),
    nextAttemptAt: t.expose('nextAttemptAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; null once it SUCCEEDED or FAILED.',
    }),
    attempts: t.field({
      type: [WebhookDeliveryAttemptType],
      description: 'Every attempt, first to last.',
      resolve: (delivery, _, ctx) => ctx.services.endpoints.attempts(ctx, delivery),
    }),
    createdAt: t.expose('createdAt', {
      type: 'DateTime',
      description: 'When the event was queued for the endpoint.',
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When its state last changed.' }),
  }),
});

builder.asEntity(WebhookDeliveryType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => ctx.services.endpoints.visibleDelivery(ctx, ref.id),
});
