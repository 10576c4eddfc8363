import type { EventRow } from '../../../db/events/schema';
import type { Route } from '../../common/definition';
import { eventIngestRoute } from '../../common/event-ingest';
import type { Logger } from '../../common/logger';
import { type EventsStorage, recordEvents } from '../storage';
import type { Forwarding } from './forwarding';

/**
 * `POST /internal/events`, where the other subgraphs' outboxes relay their events. A batch is
 * recorded in one transaction (each event once by id, with its webhook deliveries and what is
 * forwarded to consumers) and answered only after commit: a relay that never saw the answer
 * sends the batch again and the repeat records nothing.
 */
export function createIngest(options: {
  secret: string;
  storage: EventsStorage;
  forwarding: Forwarding;
  logger: Logger;
  maxBytes: number;
  /** After commit: tell subscribers and wake the delivery workers. */
  onRecorded(events: EventRow[]): void;
}): Route {
  return eventIngestRoute({
    secret: options.secret,
    maxBytes: options.maxBytes,
    logger: options.logger,
    async accept(events) {
      const recorded = await options.storage.transaction(async (_, client) => {
        const rows = await recordEvents(client, events);
        await options.forwarding.queue(client, rows);
        return rows;
      });
      options.forwarding.wake();
      options.onRecorded(recorded);
      return { recorded: recorded.length };
    },
  });
}
