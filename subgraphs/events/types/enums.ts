import type { deliveryStatuses, disabledReasons } from '../../../db/events/schema';
import { builder } from '../builder';

export const EventActorKindEnum = builder.enumType('EventActorKind', {
  description: 'What kind of actor caused an event.',
  values: {
    USER: { value: 'user', description: 'A signed-in user.' },
    API_KEY: {
      value: 'apiKey',
      description: 'A program with an API key (acting for the user who created it).',
    },
    SYSTEM: {
      value: 'system',
      description: 'The platform itself (a build finishing, a retry schedule running out).',
    },
  } as const,
});

export const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: 'Where a webhook delivery stands.',
  values: {
    PENDING: { description: 'Not delivered yet: an attempt is due or in flight, or a retry is scheduled.' },
    SUCCEEDED: { description: 'The endpoint answered an attempt with a 2xx status.' },
    FAILED: {
      description: 'Given up: every retry failed, the endpoint answered 410, or the endpoint was disabled.',
    },
  } satisfies Record<(typeof deliveryStatuses)[number], { description: string }>,
});

export const WebhookEndpointDisabledReasonEnum = builder.enumType('WebhookEndpointDisabledReason', {
  description: 'Why a webhook endpoint receives nothing.',
  values: {
    GONE: { description: 'It answered 410 Gone: its owner said it no longer exists.' },
    FAILING: { description: 'Its deliveries failed without a single success for days.' },
    MANUAL: { description: 'Someone disabled it.' },
  } satisfies Record<(typeof disabledReasons)[number], { description: string }>,
});
