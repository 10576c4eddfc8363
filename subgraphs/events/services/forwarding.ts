import type pg from 'pg';
import type { EventRow } from '../../../db/events/schema';
import type { JobQueue } from '../../common/jobs';
import type { Logger } from '../../common/logger';
import { INGEST_PATH, relayEvents } from '../../common/outbox';
import { type EventConsumer, eventConsumerNames, eventConsumers } from '../../common/platform-events';
import { platformEvent } from '../storage';

export interface ForwardingDependencies {
  jobs: JobQueue;
  /** Each consumer's origin, where its `/internal/events` is. */
  consumerUrls: Record<EventConsumer, string>;
  /** The secret forwarded batches are signed with, as the outboxes sign theirs. */
  secret: string;
  logger: Logger;
}

const queueOf = (consumer: EventConsumer) => `consumer-${consumer}`;

/**
 * Forwards recorded events to the subgraphs that act on them (`eventConsumers`): each event of
 * a consumer's types is queued for it in the transaction that records the event, and relayed
 * like an outbox, signed, until the consumer answers 2xx. Recording is once per event id, so
 * each consumer is sent each event once (and again only if it never saw the answer).
 */
export async function createForwardingService({
  jobs,
  consumerUrls,
  secret,
  logger,
}: ForwardingDependencies) {
  for (const consumer of eventConsumerNames) {
    await relayEvents(jobs, {
      queue: queueOf(consumer),
      url: new URL(INGEST_PATH, consumerUrls[consumer]).toString(),
      secret,
      logger,
      receiver: `consumer ${consumer}`,
    });
  }
  return {
    /** Queues `events` (just recorded on `client`'s open transaction) for their consumers. */
    async queue(client: pg.ClientBase, events: EventRow[]): Promise<void> {
      for (const consumer of eventConsumerNames) {
        const types: readonly string[] = eventConsumers[consumer];
        for (const event of events) {
          if (types.includes(event.type)) await jobs.send(client, queueOf(consumer), platformEvent(event));
        }
      }
    },
    /** Relays now (after the transaction that queued commits). */
    wake(): void {
      for (const consumer of eventConsumerNames) jobs.wake(queueOf(consumer));
    },
  };
}

export type ForwardingService = Awaited<ReturnType<typeof createForwardingService>>;
