import type { BaseContext } from '../common/context';
import type { AccountsStorage, createAccountsLoaders } from './storage';

export interface AccountsContext extends BaseContext {
  storage: AccountsStorage;
  loaders: ReturnType<typeof createAccountsLoaders>;
}
