import { fileURLToPath } from 'node:url';
import type { SubgraphDefinition } from '../common/definition';
import { schema } from './schema';
import { createAccountsLoaders, createAccountsStorage } from './storage';

/** Users, organizations and memberships. */
export const accounts: SubgraphDefinition = {
  name: 'accounts',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/accounts/migrations', import.meta.url)),
  setup({ pool }) {
    const storage = createAccountsStorage(pool);
    return { context: (base) => ({ ...base, storage, loaders: createAccountsLoaders(storage) }) };
  },
};
