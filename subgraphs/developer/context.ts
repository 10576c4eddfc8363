import type { BaseContext } from '../common/context';
import type { Outbox } from '../common/outbox';
import type { DeveloperLoaders, DeveloperStorage } from './storage';

export interface DeveloperContext extends BaseContext {
  storage: DeveloperStorage;
  loaders: DeveloperLoaders;
  outbox: Outbox;
}
