import type { PlatformEvent } from '../../common/platform-events';
import type { ProjectsService } from './projects';

/**
 * Acts on the events other subgraphs emit that concern deployments (`eventConsumers`), as the
 * events subgraph forwards them. Each must be safe to receive twice: a relay that never saw
 * the answer sends the batch again.
 */
export function createOrganizationsService({
  projects,
}: {
  projects: Pick<ProjectsService, 'deleteOfOrganization'>;
}) {
  return {
    /**
     * A batch the events subgraph forwarded (its signature checked by the route: no caller asks).
     * `organization.deleted` deletes the organization's projects, once.
     */
    async received(events: PlatformEvent[]): Promise<Record<string, unknown>> {
      let projectsDeleted = 0;
      for (const event of events) {
        if (event.type === 'organization.deleted') {
          projectsDeleted += await projects.deleteOfOrganization(event.organizationId);
        }
      }
      return { projectsDeleted };
    },
  };
}

export type OrganizationsService = ReturnType<typeof createOrganizationsService>;
