import type { EventRow } from '../../../db/events/schema';
import type { Encryptor } from '../../common/encryption';
import type { JobQueue } from '../../common/jobs';
import type { Logger } from '../../common/logger';
import type { EventBus } from '../../common/pubsub';
import type { EventsSettings } from '../config';
import type { Dispatcher } from '../delivery/dispatcher';
import type { EventsStorage } from '../storage';
import { createEndpointsService } from './endpoints';
import { createEventsService } from './events';
import { createForwardingService } from './forwarding';
import { createIngestService } from './ingest';

export interface EventsServicesDependencies {
  storage: EventsStorage;
  encryptor: Encryptor;
  /** The delivery workers, woken when a delivery is due now. */
  dispatcher: Pick<Dispatcher, 'wake'>;
  /** After the commit that recorded events: tells subscribers and wakes the delivery workers. */
  recorded(events: EventRow[]): void;
  events: EventBus;
  /** Where forwarded events wait for their consumer (pg-boss, in this subgraph's database). */
  jobs: JobQueue;
  /** The secret relayed batches are signed with, both ways (`ingestSecret`). */
  ingestSecret: string;
  logger: Logger;
  settings: EventsSettings;
}

/** The events subgraph's services, built once in `index.ts`; resolvers reach them as `ctx.services`. */
export async function createEventsServices(dependencies: EventsServicesDependencies) {
  const { storage, encryptor, dispatcher, recorded, events, jobs, ingestSecret, logger, settings } =
    dependencies;
  const forwarding = await createForwardingService({
    jobs,
    consumerUrls: settings.EVENT_CONSUMER_URLS,
    secret: ingestSecret,
    logger: logger.child({ component: 'forwarding' }),
  });
  return {
    events: createEventsService({ storage, events }),
    endpoints: createEndpointsService({ storage, encryptor, dispatcher, recorded, settings }),
    ingest: createIngestService({
      storage,
      forwarding,
      recorded,
      secret: ingestSecret,
      maxBytes: settings.EVENTS_INGEST_MAX_BYTES,
      logger: logger.child({ component: 'ingest' }),
    }),
  };
}

export type EventsServices = Awaited<ReturnType<typeof createEventsServices>>;
