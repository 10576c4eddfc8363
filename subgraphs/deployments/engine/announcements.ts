import type { DeploymentRow, DeploymentStatus } from '../../../db/deployments/schema';
import type { Outbox } from '../../common/outbox';
import type { EventBus } from '../../common/pubsub';
import { deploymentEvent } from '../services/platform-events';
import type { DeploymentsStorage } from '../storage';

export interface AnnouncementsDependencies {
  storage: DeploymentsStorage;
  /** Where deployment.error/.crashed are emitted, with the transition that causes them. */
  outbox: Outbox;
  events: EventBus;
}

/**
 * What the engine tells others after a commit: subscribers of a deployment or a project
 * (`deployment-updated`), the edge (`edge-routes-changed`), and, with the change itself, the
 * platform (an outbox event).
 */
export function createAnnouncements({ storage, outbox, events }: AnnouncementsDependencies) {
  function published(row: DeploymentRow | null): DeploymentRow | null {
    if (row) {
      const change = { id: row.id, projectId: row.projectId, status: row.status };
      events.pubsub.publish('deployment-updated', row.id, change);
      events.pubsub.publish('project-deployments-updated', row.projectId, change);
    }
    return row;
  }

  return {
    published,

    /** The deployment that stopped serving production changed too (`isProduction`): its followers hear of it. */
    async publishProductionChange(projectId: string, previous: string | null): Promise<void> {
      if (!previous) return;
      const [project] = await storage.projectsByIds([projectId]);
      if (project && project.productionDeploymentId !== previous)
        published(await storage.deployment(previous));
    },

    /**
     * A status change that is also a platform event: the row and its event commit together (a
     * crash between them would otherwise lose the event or announce a change that never happened).
     */
    async announcedTransition(
      id: string,
      from: DeploymentStatus[],
      to: DeploymentStatus,
      changes: Partial<DeploymentRow>,
      type: 'deployment.error' | 'deployment.crashed',
    ): Promise<DeploymentRow | null> {
      const row = await storage.transaction(async (tx, client) => {
        const changed = await tx.transition(id, from, to, changes);
        if (changed) await outbox.emit(client, deploymentEvent(type, changed));
        return changed;
      });
      if (row) outbox.wake();
      return row;
    },

    /** What the project's hosts resolve to changed (a promotion, a rollback, a deployment stopped). */
    routesChanged(projectId: string): void {
      events.pubsub.publish('edge-routes-changed', projectId);
    },
  };
}

export type Announcements = ReturnType<typeof createAnnouncements>;
