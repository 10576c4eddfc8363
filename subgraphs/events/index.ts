import { fileURLToPath } from 'node:url';
import type { EventRow } from '../../db/events/schema';
import { defineSubgraph } from '../common/definition';
import { subgraphEncryptor } from '../common/encryption';
import { createJobQueue } from '../common/jobs';
import { INGEST_PATH, ingestSecret } from '../common/outbox';
import { eventsSettings } from './config';
import { createDispatcher } from './delivery/dispatcher';
import { createSender } from './delivery/sender';
import { schema } from './schema';
import { createEventsServices } from './services';
import { createEventsLoaders, createEventsStorage, platformEvent } from './storage';

/** The event log, webhook endpoints and the delivery of events to them. */
export const events = defineSubgraph({
  name: 'events',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/events/migrations', import.meta.url)),
  settings: eventsSettings,
  async setup({ pool, logger, events: bus, config, settings }) {
    const encryptor = subgraphEncryptor(settings.EVENTS_ENCRYPTION_KEY, config.KEYS_DIR, 'events-encryption');
    const storage = createEventsStorage(pool);
    const sender = createSender({
      allowPrivateNetworks: settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS,
      timeoutMs: settings.WEBHOOK_TIMEOUT_MS,
    });

    // Set once the dispatcher exists: the dispatcher itself records events (an endpoint disabled).
    let wake = () => {};
    const recorded = (rows: EventRow[]) => {
      for (const row of rows) bus.pubsub.publish('event-published', row.organizationId, platformEvent(row));
      if (rows.length > 0) wake();
    };
    const dispatcher = createDispatcher({
      pool,
      storage,
      sender,
      encryptor,
      logger: logger.child({ component: 'webhooks' }),
      policy: {
        schedule: settings.WEBHOOK_RETRY_SCHEDULE,
        jitter: settings.WEBHOOK_RETRY_JITTER,
        retryAfterMaxSeconds: settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS,
      },
      concurrency: settings.WEBHOOK_CONCURRENCY,
      concurrencyPerEndpoint: settings.WEBHOOK_CONCURRENCY_PER_ENDPOINT,
      pollIntervalMs: settings.WEBHOOK_POLL_INTERVAL_MS,
      timeoutMs: settings.WEBHOOK_TIMEOUT_MS,
      disableAfterHours: settings.WEBHOOK_DISABLE_AFTER_HOURS,
      onRecorded: recorded,
    });
    wake = dispatcher.wake;
    const jobs = await createJobQueue(pool, logger);
    const services = await createEventsServices({
      storage,
      encryptor,
      dispatcher,
      recorded,
      events: bus,
      jobs,
      ingestSecret: ingestSecret(config),
      logger,
      settings,
    });

    return {
      services,
      loaders: () => createEventsLoaders(storage),
      routes: { [INGEST_PATH]: services.ingest.route },
      async close() {
        await dispatcher.close();
        await sender.close();
        await jobs.close();
      },
    };
  },
});
