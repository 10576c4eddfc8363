import type { DeploymentRow, ProjectRow } from '../../../db/deployments/schema';
import type { Caller } from '../../common/caller';
import type { NewEvent } from '../../common/outbox';

type DeploymentEventType =
  | 'deployment.created'
  | 'deployment.ready'
  | 'deployment.error'
  | 'deployment.canceled'
  | 'deployment.crashed'
  | 'deployment.promoted';

/**
 * A deployment event as webhooks receive it: enough to act on (notify, post a comment, roll
 * back) without calling back, and never the environment's values or the source's credentials.
 */
export function deploymentEvent(
  type: DeploymentEventType,
  row: DeploymentRow,
  details: { url?: string; actor?: Caller; extra?: Record<string, unknown> } = {},
): NewEvent {
  return {
    type,
    organizationId: row.organizationId,
    ...(details.actor ? { actor: details.actor } : {}),
    subjects: { projectId: row.projectId, deploymentId: row.id, environmentId: row.environmentId },
    payload: {
      deploymentId: row.id,
      projectId: row.projectId,
      environmentId: row.environmentId,
      status: row.status,
      sourceKind: row.sourceKind,
      ref: row.ref,
      commitSha: row.commitSha,
      ...(details.url ? { url: details.url } : {}),
      ...(row.errorMessage ? { errorMessage: row.errorMessage, errorStep: row.errorStep } : {}),
      createdAt: row.createdAt.toISOString(),
      ...details.extra,
    },
  };
}

export function projectEvent(
  type: 'project.created' | 'project.deleted',
  project: ProjectRow,
  /** Who did it; absent for the platform (a project deleted with its organization). */
  actor: Caller | undefined,
  url: string,
  extra: Record<string, unknown> = {},
): NewEvent {
  return {
    type,
    organizationId: project.organizationId,
    ...(actor ? { actor } : {}),
    subjects: { projectId: project.id },
    payload: { projectId: project.id, name: project.name, slug: project.slug, url, ...extra },
  };
}
