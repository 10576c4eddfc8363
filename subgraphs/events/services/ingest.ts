import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebhookVerificationError } from 'standardwebhooks';
import { z } from 'zod';
import type { EventRow } from '../../../db/events/schema';
import { readBody } from '../../common/http-server';
import type { Logger } from '../../common/logger';
import { verifyIngest } from '../../common/outbox';
import { isEventType, type PlatformEvent } from '../../common/platform-events';
import { type EventsStorage, recordEvents } from '../storage';

/**
 * `POST /internal/events`: where the other subgraphs' outbox relays deliver events. A batch is
 * recorded in one transaction (each event once by id, with its webhook deliveries) and
 * answered 200 only after commit: a relay that never saw the answer sends the batch again and
 * the repeat records nothing.
 *
 * An event of a type this process does not know is skipped with a warning rather than refusing
 * the batch: the relay retries a refused batch for days, so one such event (from a subgraph
 * deployed ahead of this one) would hold back every event queued with it. A batch that is not
 * what any emitter sends (bad JSON, an event without its fields) is refused with 400: that is a
 * bug to see, not data to guess at.
 */
const id = z.string().min(1).max(200);
const eventSchema = z.object({
  id,
  type: z.string().min(1).max(200),
  organizationId: id,
  actor: z.object({
    kind: z.enum(['user', 'apiKey', 'system']),
    userId: id.nullable(),
    apiKeyId: id.nullable(),
  }),
  source: z.string().min(1).max(100),
  subjects: z.record(z.string(), z.string().max(200)),
  payload: z.record(z.string(), z.unknown()),
  occurredAt: z.iso.datetime({ offset: true }),
});

export interface Ingest {
  route(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function createIngest(options: {
  secret: string;
  storage: EventsStorage;
  logger: Logger;
  maxBytes: number;
  /** After commit: tell subscribers and wake the delivery workers. */
  onRecorded(events: EventRow[]): void;
}): Ingest {
  const { logger } = options;
  const answer = (res: ServerResponse, status: number, body: object) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, status: number, code: string, message: string) =>
    answer(res, status, { error: { code, message } });

  return {
    async route(req, res) {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        return refuse(res, 405, 'METHOD_NOT_ALLOWED', 'POST a signed batch of events.');
      }
      const read = await readBody(req, options.maxBytes);
      if (read === 'too-large') {
        res.setHeader('connection', 'close');
        return refuse(res, 413, 'PAYLOAD_TOO_LARGE', `A batch is at most ${options.maxBytes} bytes.`);
      }
      let batch: unknown[];
      try {
        batch = verifyIngest(options.secret, read.toString('utf8'), req.headers);
      } catch (error) {
        if (error instanceof WebhookVerificationError) {
          logger.warn({ reason: error.message }, 'refused an unsigned or stale event batch');
          return refuse(
            res,
            401,
            'UNAUTHENTICATED',
            'The batch is not signed with the ingest secret, or is stale.',
          );
        }
        return refuse(res, 400, 'BAD_REQUEST', 'The body is not a JSON object with an `events` array.');
      }
      const events: PlatformEvent[] = [];
      for (const [index, raw] of batch.entries()) {
        const parsed = eventSchema.safeParse(raw);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          return refuse(
            res,
            400,
            'BAD_REQUEST',
            `events[${index}].${issue.path.join('.')}: ${issue.message}`,
          );
        }
        if (!isEventType(parsed.data.type)) {
          logger.warn(
            { eventId: parsed.data.id, type: parsed.data.type },
            'skipped an event of an unknown type',
          );
          continue;
        }
        events.push(parsed.data as PlatformEvent);
      }
      const recorded = await options.storage.transaction((_, client) => recordEvents(client, events));
      options.onRecorded(recorded);
      answer(res, 200, { received: batch.length, recorded: recorded.length });
    },
  };
}
