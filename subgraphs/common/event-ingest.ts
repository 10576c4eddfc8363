import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebhookVerificationError } from 'standardwebhooks';
import { z } from 'zod';
import type { ErrorCode } from './error-codes';
import { readBody } from './http-server';
import type { Logger } from './logger';
import { verifyIngest } from './outbox';
import { isEventType, type PlatformEvent } from './platform-events';

/**
 * `POST /internal/events`: where signed batches of platform events arrive, relayed by an outbox
 * (subgraphs → events) or by the events subgraph's forwarding (events → a consumer). A batch is
 * answered 200 only once `accept` has made it durable: a relay that never saw the answer sends
 * the batch again, so `accept` must treat an event it has seen as done.
 *
 * An event of a type this process does not know is skipped with a warning rather than refusing
 * the batch: the relay retries a refused batch for days, so one such event (from a subgraph
 * deployed ahead of this one) would hold back every event queued with it. A batch that is not
 * what any relay sends (bad JSON, an event without its fields) is refused with 400: that is a
 * bug to see, not data to guess at.
 */
export interface EventIngestOptions {
  /** The Standard Webhooks secret batches are signed with (`ingestSecret`). */
  secret: string;
  maxBytes: number;
  logger: Logger;
  /** Makes the batch's events durable (or acts on them); its result is the answer's body. */
  accept(events: PlatformEvent[]): Promise<Record<string, unknown>>;
}

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

export function eventIngestRoute(options: EventIngestOptions) {
  const { logger } = options;
  const answer = (res: ServerResponse, status: number, body: object) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, status: number, code: ErrorCode, message: string) =>
    answer(res, status, { error: { code, message } });

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
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
        return refuse(res, 400, 'BAD_REQUEST', `events[${index}].${issue.path.join('.')}: ${issue.message}`);
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
    answer(res, 200, { received: batch.length, ...(await options.accept(events)) });
  };
}
