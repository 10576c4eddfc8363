import type { SubgraphContext } from '../common/context';
import type { AccountsServices } from './services';
import type { AccountsLoaders } from './storage';

export type AccountsContext = SubgraphContext<AccountsServices, AccountsLoaders>;
