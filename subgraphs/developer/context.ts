import type { SubgraphContext } from '../common/context';
import type { DeveloperServices } from './services';
import type { DeveloperLoaders } from './storage';

export type DeveloperContext = SubgraphContext<DeveloperServices, DeveloperLoaders>;
