import type { BaseContext } from '../common/context';
import type { createDeploymentsLoaders, DeploymentsStorage } from './storage';

export interface DeploymentsContext extends BaseContext {
  storage: DeploymentsStorage;
  loaders: ReturnType<typeof createDeploymentsLoaders>;
}
