import type { EventRow } from '../../../db/events/schema';
import type { Route } from '../../common/definition';
import { eventIngestRoute } from '../../common/event-ingest';
import type { Logger } from '../../common/logger';
import type { PlatformEvent } from '../../common/platform-events';
import type { EventsStorage } from '../storage';
import type { ForwardingService } from './forwarding';

export interface IngestDependencies {
  storage: EventsStorage;
  forwarding: ForwardingService;
  /** After commit: tell subscribers and wake the delivery workers. */
  recorded(events: EventRow[]): void;
  /** The secret relayed batches are signed with (`ingestSecret`). */
  secret: string;
  /** Largest batch the route reads. */
  maxBytes: number;
  logger: Logger;
}

/**
 * What the other subgraphs' outboxes relay their events to. A batch is recorded in one
 * transaction (each event once by id, with its webhook deliveries and what is forwarded to
 * consumers) and answered only after commit: a relay that never saw the answer sends the batch
 * again and the repeat records nothing. Built once, it serves no caller: the batch's signature
 * is its authorization.
 */
export function createIngestService({
  storage,
  forwarding,
  recorded,
  secret,
  maxBytes,
  logger,
}: IngestDependencies) {
  /** Records a verified batch; returns how many of its events were new to the log. */
  async function record(batch: PlatformEvent[]): Promise<{ recorded: number }> {
    const rows = await storage.transaction(async (tx, client) => {
      const rows = await tx.recordEvents(batch);
      await forwarding.queue(client, rows);
      return rows;
    });
    forwarding.wake();
    recorded(rows);
    return { recorded: rows.length };
  }

  return {
    record,
    /** `POST /internal/events`: verifies the signature and the events, then `record`s them. */
    route: eventIngestRoute({ secret, maxBytes, logger, accept: record }) satisfies Route,
  };
}

export type IngestService = ReturnType<typeof createIngestService>;
