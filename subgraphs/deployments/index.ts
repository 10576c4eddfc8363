import { fileURLToPath } from 'node:url';
import type { SubgraphDefinition } from '../common/definition';
import { schema } from './schema';
import { createDeploymentsLoaders, createDeploymentsStorage } from './storage';

/** Projects (and, as it grows, environments, deployments, builds and the runtime). */
export const deployments: SubgraphDefinition = {
  name: 'deployments',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/deployments/migrations', import.meta.url)),
  setup({ pool }) {
    const storage = createDeploymentsStorage(pool);
    return { context: (base) => ({ ...base, storage, loaders: createDeploymentsLoaders(storage) }) };
  },
};
