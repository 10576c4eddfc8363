import type { SubgraphContext } from '../common/context';
import type { DeploymentsServices } from './services';
import type { DeploymentsLoaders } from './storage';

export type DeploymentsContext = SubgraphContext<DeploymentsServices, DeploymentsLoaders>;
