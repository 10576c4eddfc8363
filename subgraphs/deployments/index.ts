import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SubgraphDefinition } from '../common/definition';
import { subgraphEncryptor } from '../common/encryption';
import { eventIngestRoute } from '../common/event-ingest';
import { createJobQueue } from '../common/jobs';
import { createOutbox, INGEST_PATH, ingestSecret } from '../common/outbox';
import { loadDeploymentsConfig } from './config';
import { createEdgeRouter } from './runtime/edge-router';
import { createLocalRuntime } from './runtime/local/local-runtime';
import { schema } from './schema';
import { createDeploymentEngine } from './services/engine';
import { createLogWriter } from './services/log-writer';
import { createEventConsumer } from './services/organizations';
import { createUploads } from './services/uploads';
import { createDeploymentsLoaders, createDeploymentsStorage } from './storage';

/** Projects, environments, deployments, their pipeline, the runtime that runs them, and the edge in front. */
export const deployments: SubgraphDefinition = {
  name: 'deployments',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/deployments/migrations', import.meta.url)),
  async setup({ pool, logger, events, config }) {
    const settings = loadDeploymentsConfig(config.env, config.NODE_ENV === 'production');
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
    const uploads = createUploads(storage, settings, logger);
    const jobs = await createJobQueue(pool, logger);
    const outbox = await createOutbox({ jobs, source: 'deployments', config, logger });
    const engine = createDeploymentEngine({
      outbox,
      storage,
      jobs,
      runtime,
      logs: createLogWriter(storage, events, logger),
      events,
      logger,
      config: settings,
      encryptor,
      uploadPath: uploads.path,
    });
    const edge = createEdgeRouter({
      baseDomain: settings.EDGE_BASE_DOMAIN,
      lookup: engine.lookup,
      logger: logger.child({ component: 'edge' }),
    });
    engine.setEdgePort(await edge.listen(settings.EDGE_PORT, settings.EDGE_HOST ?? config.HOST));
    await engine.start();
    return {
      context: (base) => ({
        ...base,
        settings,
        storage,
        loaders: createDeploymentsLoaders(storage),
        engine,
        encryptor,
        uploads,
        outbox,
      }),
      routes: {
        '/uploads/': uploads.route,
        [INGEST_PATH]: eventIngestRoute({
          secret: ingestSecret(config),
          maxBytes: 1024 * 1024,
          logger: logger.child({ component: 'consumer' }),
          accept: createEventConsumer({ storage, engine, outbox, logger }),
        }),
      },
      listening: uploads.listening,
      async close() {
        await edge.close();
        await engine.close();
      },
    };
  },
};
