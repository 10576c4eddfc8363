import { fileURLToPath } from 'node:url';
import type { EventRow } from '../../db/events/schema';
import type { SubgraphDefinition } from '../common/definition';
import { subgraphEncryptor } from '../common/encryption';
import { createJobQueue } from '../common/jobs';
import { INGEST_PATH, ingestSecret } from '../common/outbox';
import { loadEventsConfig } from './config';
import { createDispatcher } from './delivery/dispatcher';
import { createSender } from './delivery/sender';
import { schema } from './schema';
import { createForwarding } from './services/forwarding';
import { createIngest } from './services/ingest';
import { createEventsLoaders, createEventsStorage, platformEvent } from './storage';

/** The event log, webhook endpoints and the delivery of events to them. */
export const events: SubgraphDefinition = {
  name: 'events',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/events/migrations', import.meta.url)),
  async setup({ pool, logger, events: bus, config }) {
    const settings = loadEventsConfig(config.env, config.NODE_ENV === 'production');
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
    const forwarding = await createForwarding({
      jobs,
      consumerUrls: settings.consumerUrls,
      secret: ingestSecret(config),
      logger: logger.child({ component: 'forwarding' }),
    });
    const ingest = createIngest({
      secret: ingestSecret(config),
      storage,
      forwarding,
      logger: logger.child({ component: 'ingest' }),
      maxBytes: settings.EVENTS_INGEST_MAX_BYTES,
      onRecorded: recorded,
    });

    return {
      context: (base) => ({
        ...base,
        settings,
        storage,
        loaders: createEventsLoaders(storage),
        encryptor,
        dispatcher,
        recorded,
      }),
      routes: { [INGEST_PATH]: ingest },
      async close() {
        await dispatcher.close();
        await sender.close();
        await jobs.close();
      },
    };
  },
};
