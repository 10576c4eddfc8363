import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineSubgraph } from '../common/definition';
import { subgraphEncryptor } from '../common/encryption';
import { eventIngestRoute } from '../common/event-ingest';
import { createJobQueue } from '../common/jobs';
import { createOutbox, INGEST_PATH, ingestSecret } from '../common/outbox';
import { deploymentsSettings } from './config';
import { createDeploymentEngine } from './engine';
import { createEdgeRouter } from './runtime/edge-router';
import { createLocalRuntime } from './runtime/local/local-runtime';
import { schema } from './schema';
import { createDeploymentsServices } from './services';
import { createUploads } from './services/uploads';
import { createDeploymentsLoaders, createDeploymentsStorage } from './storage';

/** Projects, environments, deployments, their pipeline, the runtime that runs them, and the edge in front. */
export const deployments = defineSubgraph({
  name: 'deployments',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/deployments/migrations', import.meta.url)),
  settings: deploymentsSettings,
  async setup({ pool, logger, events, config, settings }) {
    const encryptor = subgraphEncryptor(
      settings.DEPLOYMENTS_ENCRYPTION_KEY,
      config.KEYS_DIR,
      'deployments-encryption',
    );
    const storage = createDeploymentsStorage(pool);
    const runtime = createLocalRuntime({
      rootDir: resolve(settings.RUNTIME_DIR),
      logger: logger.child({ component: 'runtime' }),
      allowLocalSources: settings.RUNTIME_ALLOW_LOCAL_SOURCES,
      restart: { maxRetries: settings.RESTART_MAX_RETRIES },
    });
    const uploads = createUploads({ storage, settings, logger });
    const jobs = await createJobQueue(pool, logger);
    const outbox = await createOutbox({ jobs, source: 'deployments', config, logger });
    const engine = createDeploymentEngine({
      storage,
      jobs,
      outbox,
      runtime,
      events,
      logger,
      settings,
      encryptor,
      uploadPath: uploads.path,
    });
    const edge = createEdgeRouter({
      baseDomain: settings.EDGE_BASE_DOMAIN,
      lookup: engine.instances.lookup,
      logger: logger.child({ component: 'edge' }),
    });
    engine.urls.setEdgePort(await edge.listen(settings.EDGE_PORT, settings.EDGE_HOST ?? config.HOST));
    await engine.start();
    const services = createDeploymentsServices({
      storage,
      engine,
      outbox,
      events,
      encryptor,
      uploads,
      settings,
      logger,
    });
    return {
      services,
      loaders: () => createDeploymentsLoaders(storage),
      routes: {
        '/uploads/': uploads.route,
        [INGEST_PATH]: eventIngestRoute({
          secret: ingestSecret(config),
          maxBytes: 1024 * 1024,
          logger: logger.child({ component: 'consumer' }),
          accept: services.organizations.received,
        }),
      },
      listening: uploads.listening,
      async close() {
        await edge.close();
        await engine.close();
      },
    };
  },
});
