import type { BaseContext } from '../common/context';
import type { Encryptor } from '../common/encryption';
import type { Outbox } from '../common/outbox';
import type { DeploymentsConfig } from './config';
import type { DeploymentEngine } from './services/engine';
import type { Uploads } from './services/uploads';
import type { DeploymentsLoaders, DeploymentsStorage } from './storage';

export interface DeploymentsContext extends BaseContext {
  settings: DeploymentsConfig;
  storage: DeploymentsStorage;
  loaders: DeploymentsLoaders;
  engine: DeploymentEngine;
  encryptor: Encryptor;
  uploads: Uploads;
  /** Platform events (deployment.created, project.deleted, …), emitted in the transaction of the change. */
  outbox: Outbox;
}
