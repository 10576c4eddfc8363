import { fileURLToPath } from 'node:url';
import { defineSubgraph } from '../common/definition';
import { createJobQueue } from '../common/jobs';
import { createOutbox } from '../common/outbox';
import { developerSettings } from './config';
import { schema } from './schema';
import { createDeveloperServices } from './services';
import { createDeveloperLoaders, createDeveloperStorage } from './storage';

/** API keys (scoped, hashed, rotated), and the caller's rate-limit budget as the gateway counted it. */
export const developer = defineSubgraph({
  name: 'developer',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/developer/migrations', import.meta.url)),
  settings: developerSettings,
  async setup({ pool, logger, events, config }) {
    const storage = createDeveloperStorage(pool);
    const jobs = await createJobQueue(pool, logger);
    const outbox = await createOutbox({ jobs, source: 'developer', config, logger });
    return {
      services: createDeveloperServices({ storage, outbox, events, logger }),
      loaders: () => createDeveloperLoaders(storage),
      close: () => jobs.close(),
    };
  },
});
