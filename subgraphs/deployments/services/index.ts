import type { Encryptor } from '../../common/encryption';
import type { Logger } from '../../common/logger';
import type { Outbox } from '../../common/outbox';
import type { EventBus } from '../../common/pubsub';
import type { DeploymentsSettings } from '../config';
import type { DeploymentEngine } from '../engine';
import type { DeploymentsStorage } from '../storage';
import { createDeploymentsService } from './deployments';
import { createEnvironmentsService } from './environments';
import { createOrganizationsService } from './organizations';
import { createProjectsService } from './projects';
import { createUploadsService, type Uploads } from './uploads';

export interface DeploymentsServicesDependencies {
  storage: DeploymentsStorage;
  engine: DeploymentEngine;
  /** Platform events (deployment.created, project.deleted, …), emitted in the transaction of the change. */
  outbox: Outbox;
  events: EventBus;
  /** Encrypts environment variables at rest. */
  encryptor: Encryptor;
  uploads: Uploads;
  settings: DeploymentsSettings;
  logger: Logger;
}

/** The deployments subgraph's services, built once in `index.ts`; resolvers reach them as `ctx.services`. */
export function createDeploymentsServices(deps: DeploymentsServicesDependencies) {
  const { storage, engine, outbox, events, encryptor, uploads, settings, logger } = deps;
  const projects = createProjectsService({ storage, engine, outbox, settings, logger });
  const environments = createEnvironmentsService({ storage, encryptor, projects, logger });
  return {
    projects,
    environments,
    deployments: createDeploymentsService({
      storage,
      engine,
      outbox,
      events,
      projects,
      environments,
      uploads,
    }),
    uploads: createUploadsService({ storage, uploads, projects, settings }),
    organizations: createOrganizationsService({ projects }),
  };
}

export type DeploymentsServices = ReturnType<typeof createDeploymentsServices>;
