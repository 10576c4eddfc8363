import type { WebhookDeliveryAttemptRow } from '../../../db/events/schema';
import { builder } from '../builder';

export const WebhookDeliveryAttemptType = builder
  .objectRef<WebhookDeliveryAttemptRow>('WebhookDeliveryAttempt')
  .implement({
    description: 'One HTTP request of a delivery to its endpoint, and what came of it.',
    fields: (t) => ({
      number: t.exposeInt('number', { description: '1 for the first attempt of the delivery, then 2, 3…' }),
      startedAt: t.expose('startedAt', { type: 'DateTime', description: 'When the request started.' }),
      durationMs: t.exposeInt('durationMs', {
        description:
          'Milliseconds from the start of the request to the end of the response (or the failure).',
      }),
      statusCode: t.exposeInt('statusCode', {
        nullable: true,
        description: 'The endpoint’s HTTP status; null when no response came.',
      }),
      error: t.exposeString('error', {
        nullable: true,
        description:
          'Why the attempt failed (`answered 500`, `timed out after 15 s`, `refused: … resolves to a private or reserved address`); null on success.',
      }),
      responseExcerpt: t.exposeString('responseExcerpt', {
        nullable: true,
        description: 'The first kilobyte of the response body, as text; null when no response came.',
      }),
      nextAttemptAt: t.expose('nextAttemptAt', {
        type: 'DateTime',
        nullable: true,
        description: 'When the attempt after this one was scheduled; null if none was (success or given up).',
      }),
    }),
  });
