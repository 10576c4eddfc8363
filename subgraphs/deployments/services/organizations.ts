import type { DeploymentRow } from '../../../db/deployments/schema';
import type { Logger } from '../../common/logger';
import type { Outbox } from '../../common/outbox';
import type { PlatformEvent } from '../../common/platform-events';
import type { DeploymentsStorage } from '../storage';
import type { DeploymentEngine } from './engine';
import { projectEvent } from './platform-events';

interface Dependencies {
  storage: DeploymentsStorage;
  engine: DeploymentEngine;
  outbox: Outbox;
  logger: Logger;
}

/**
 * Acts on the events other subgraphs emit that concern deployments (`eventConsumers`), as the
 * events subgraph forwards them. Each must be safe to receive twice: a relay that never saw
 * the answer sends the batch again.
 */
export function createEventConsumer(deps: Dependencies) {
  return async (events: PlatformEvent[]): Promise<Record<string, unknown>> => {
    let projectsDeleted = 0;
    for (const event of events) {
      if (event.type === 'organization.deleted') {
        projectsDeleted += await deleteProjectsOfOrganization(deps, event);
      }
    }
    return { projectsDeleted };
  };
}

/**
 * An organization was deleted: each of its projects is deleted as `deleteProject` would (in one
 * transaction, with a `project.deleted` event each), then their apps stop and their builds are
 * removed; no project is created in it any more. A repeat finds no project left and does nothing.
 */
async function deleteProjectsOfOrganization(deps: Dependencies, event: PlatformEvent): Promise<number> {
  const { storage, engine, outbox } = deps;
  const { deleted, removed } = await storage.transaction(async (tx, client) => {
    // First, so that a project created by a caller whose credential still lists the membership
    // (a gateway's cache) is either among those deleted here or refused.
    await tx.markOrganizationDeleted(event.organizationId);
    const deleted = await tx.markProjectsOfOrganizationDeleted(event.organizationId);
    const removed: DeploymentRow[] = [];
    for (const project of deleted) {
      await outbox.emit(
        client,
        projectEvent('project.deleted', project, undefined, engine.projectUrl(project), {
          reason: 'organization.deleted',
        }),
      );
      removed.push(...(await tx.removeDeploymentsOfProject(project.id)));
    }
    return { deleted, removed };
  });
  if (deleted.length === 0) return 0;
  deps.logger.info(
    { organizationId: event.organizationId, projects: deleted.length },
    'deleted the projects of a deleted organization',
  );
  outbox.wake();
  for (const project of deleted) engine.routesChanged(project.id);
  await engine.removed(removed);
  return deleted.length;
}
