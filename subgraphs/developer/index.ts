import { fileURLToPath } from 'node:url';
import type { SubgraphDefinition } from '../common/definition';
import { createJobQueue } from '../common/jobs';
import { createOutbox } from '../common/outbox';
import { schema } from './schema';
import { createDeveloperLoaders, createDeveloperStorage } from './storage';

/** API keys (scoped, hashed, rotated), and the caller's rate-limit budget as the gateway counted it. */
export const developer: SubgraphDefinition = {
  name: 'developer',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/developer/migrations', import.meta.url)),
  async setup({ pool, logger, config }) {
    const storage = createDeveloperStorage(pool);
    const jobs = await createJobQueue(pool, logger);
    const outbox = await createOutbox({ jobs, source: 'developer', config, logger });
    return {
      context: (base) => ({ ...base, storage, loaders: createDeveloperLoaders(storage), outbox }),
      close: () => jobs.close(),
    };
  },
};
