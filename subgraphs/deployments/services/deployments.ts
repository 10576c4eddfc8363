import { z } from 'zod';
import type {
  DeploymentRow,
  DeploymentStatus,
  EnvironmentRow,
  ProjectRow,
} from '../../../db/deployments/schema';
import { newId } from '../../../db/ids';
import { actingUserId, hasRole } from '../../common/caller';
import { refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import type { DeploymentsContext } from '../context';
import { isSafeRef } from '../runtime/source-validation';
import { environmentNamed, variablesOf } from './environments';
import { deploymentEvent } from './platform-events';
import { canSee, deploymentId, projectForChange } from './projects';

export interface DeploymentPayload {
  deployment: DeploymentRow | null;
  userErrors: UserError[];
}

const failure = (field: string, message: string, code: UserError['code'] = 'INVALID'): DeploymentPayload => ({
  deployment: null,
  userErrors: [userError(['input', field], message, code)],
});

/** The deployment, if it exists and the caller can see its organization's projects; null otherwise. */
export async function visibleDeployment(ctx: DeploymentsContext, id: string): Promise<DeploymentRow | null> {
  if (!deploymentId.safeParse(id).success) return null;
  const deployment = await ctx.loaders.deployment.load(id);
  return deployment && canSee(ctx.caller, deployment.organizationId) ? deployment : null;
}

/** A deployment a mutation names, if the caller may act on it (MEMBER+); a userError if they cannot see it. */
async function deploymentForChange(
  ctx: DeploymentsContext,
  id: string,
  field = 'deploymentId',
): Promise<{ deployment: DeploymentRow } | DeploymentPayload> {
  if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
  const deployment = await visibleDeployment(ctx, id);
  if (!deployment) return failure(field, 'No such deployment.', 'NOT_FOUND');
  if (!hasRole(ctx.caller, deployment.organizationId, 'MEMBER')) {
    throw refusal(ctx.caller, 'This takes the MEMBER role or higher in the deployment’s organization.');
  }
  return { deployment };
}

/**
 * Queues a deployment: its row and its pipeline job commit together (a crash loses neither),
 * with a snapshot of the environment's variables as they are now.
 */
async function queueDeployment(
  ctx: DeploymentsContext,
  project: ProjectRow,
  environment: EnvironmentRow,
  source: Pick<DeploymentRow, 'sourceKind' | 'sourceUrl' | 'ref' | 'uploadId' | 'redeployOf'>,
): Promise<DeploymentPayload> {
  const id = newId('dpl');
  const env = await variablesOf(ctx, environment.id);
  const deployment = await ctx.storage.transaction(async (tx, client) => {
    const row = await tx.insertDeployment({
      id,
      projectId: project.id,
      organizationId: project.organizationId,
      environmentId: environment.id,
      creatorId: actingUserId(ctx.caller) ?? '',
      envEncrypted: ctx.engine.encryptEnv(id, env),
      ...source,
    });
    await ctx.engine.enqueue(client, row);
    await ctx.outbox.emit(
      client,
      deploymentEvent('deployment.created', row, {
        actor: ctx.caller,
        url: ctx.engine.deploymentUrl(row.id),
        extra: { environment: environment.name, redeployOf: row.redeployOf },
      }),
    );
    return row;
  });
  ctx.engine.wake();
  ctx.outbox.wake();
  ctx.engine.published(deployment);
  return { deployment, userErrors: [] };
}

/** Vercel's rule when none is named: the production branch deploys to production, any other ref to preview. */
async function targetEnvironment(
  ctx: DeploymentsContext,
  project: ProjectRow,
  name: string | null | undefined,
  ref: string | null,
) {
  const chosen = name ?? (ref === null || ref === project.productionBranch ? 'production' : 'preview');
  return environmentNamed(ctx, project.id, chosen);
}

export async function createDeployment(ctx: DeploymentsContext, input: unknown): Promise<DeploymentPayload> {
  const parsed = z
    .object({
      projectId: z.string(),
      environment: z.string().nullish(),
      ref: z.string().trim().refine(isSafeRef, 'Not a valid branch, tag or commit SHA.').nullish(),
    })
    .safeParse(input);
  if (!parsed.success) return { deployment: null, userErrors: userErrorsFromZod(parsed.error) };
  const found = await projectForChange(ctx, parsed.data.projectId, 'MEMBER');
  if ('userErrors' in found) return { deployment: null, ...found };
  const { project } = found;
  if (!project.sourceUrl) {
    return failure(
      'projectId',
      'The project has no repository: set its sourceUrl, or deploy an upload with createDeploymentFromUpload.',
      'CONFLICT',
    );
  }
  const ref = parsed.data.ref ?? project.productionBranch;
  const target = await targetEnvironment(ctx, project, parsed.data.environment, ref);
  if ('userErrors' in target) return { deployment: null, ...target };
  return queueDeployment(ctx, project, target.environment, {
    sourceKind: 'GIT',
    sourceUrl: project.sourceUrl,
    ref,
    uploadId: null,
    redeployOf: null,
  });
}

export async function createDeploymentFromUpload(
  ctx: DeploymentsContext,
  input: unknown,
): Promise<DeploymentPayload> {
  const parsed = z
    .object({ projectId: z.string(), environment: z.string().nullish(), uploadId: z.string() })
    .safeParse(input);
  if (!parsed.success) return { deployment: null, userErrors: userErrorsFromZod(parsed.error) };
  const found = await projectForChange(ctx, parsed.data.projectId, 'MEMBER');
  if ('userErrors' in found) return { deployment: null, ...found };
  const { project } = found;
  const upload = /^upl_[0-9A-Z]{26}$/.test(parsed.data.uploadId)
    ? await ctx.storage.upload(parsed.data.uploadId)
    : null;
  if (!upload || upload.projectId !== project.id) return failure('uploadId', 'No such upload.', 'NOT_FOUND');
  if (!upload.receivedAt) {
    return failure(
      'uploadId',
      'Nothing was uploaded yet: PUT the archive to the upload URL first.',
      'CONFLICT',
    );
  }
  // A CLI deploys a local folder to preview unless told otherwise, as `vercel` does.
  const target = await environmentNamed(ctx, project.id, parsed.data.environment ?? 'preview');
  if ('userErrors' in target) return { deployment: null, ...target };
  return queueDeployment(ctx, project, target.environment, {
    sourceKind: 'UPLOAD',
    sourceUrl: null,
    ref: null,
    uploadId: upload.id,
    redeployOf: null,
  });
}

/** Builds the same source again (same ref or upload, same environment), with the environment's current variables. */
export async function redeploy(
  ctx: DeploymentsContext,
  input: { deploymentId: string },
): Promise<DeploymentPayload> {
  const found = await deploymentForChange(ctx, input.deploymentId);
  if (!('deployment' in found) || !found.deployment) return found as DeploymentPayload;
  const previous = found.deployment;
  const project = await ctx.loaders.project.load(previous.projectId);
  const environment = await ctx.loaders.environment.load(previous.environmentId);
  if (!project || !environment) return failure('deploymentId', 'No such deployment.', 'NOT_FOUND');
  if (previous.sourceKind === 'UPLOAD' && !(await ctx.uploads.exists(previous.uploadId!))) {
    return failure(
      'deploymentId',
      'The upload this deployment was built from is gone; deploy a new one.',
      'CONFLICT',
    );
  }
  return queueDeployment(ctx, project, environment, {
    sourceKind: previous.sourceKind,
    sourceUrl: previous.sourceUrl,
    // The commit it resolved to, so a redeploy rebuilds exactly what ran, even if the branch moved on.
    ref: previous.commitSha ?? previous.ref,
    uploadId: previous.uploadId,
    redeployOf: previous.id,
  });
}

const cancelable: DeploymentStatus[] = ['QUEUED', 'BUILDING', 'DEPLOYING'];

export async function cancelDeployment(
  ctx: DeploymentsContext,
  input: { deploymentId: string },
): Promise<DeploymentPayload> {
  const found = await deploymentForChange(ctx, input.deploymentId);
  if (!('deployment' in found) || !found.deployment) return found as DeploymentPayload;
  const target = found.deployment;
  const canceled = await ctx.storage.transaction(async (tx, client) => {
    const row = await tx.transition(target.id, cancelable, 'CANCELED', {
      finishedAt: new Date(),
      leaseExpiresAt: null,
    });
    if (row)
      await ctx.outbox.emit(client, deploymentEvent('deployment.canceled', row, { actor: ctx.caller }));
    return row;
  });
  if (!canceled) {
    const current = await ctx.storage.deployment(target.id);
    return failure(
      'deploymentId',
      `Only queued or building deployments can be canceled; this one is ${current?.status ?? 'gone'}.`,
      'CONFLICT',
    );
  }
  ctx.outbox.wake();
  ctx.engine.canceled(canceled.id);
  ctx.engine.published(canceled);
  return { deployment: canceled, userErrors: [] };
}

/**
 * Points a production URL at a READY deployment of the project, in one transaction with the
 * project row locked: two promotions take turns, and the edge switches for the next request.
 */
async function pointProduction(
  ctx: DeploymentsContext,
  projectId: string,
  deploymentIdValue: string,
  pinned: boolean,
  rules: (deployment: DeploymentRow) => string | null,
): Promise<DeploymentPayload> {
  let previous: string | null = null;
  const result = await ctx.storage.transaction(async (tx, client) => {
    const project = await tx.lockProject(projectId);
    previous = project?.productionDeploymentId ?? null;
    const [deployment] = await tx.deploymentsByIds([deploymentIdValue]);
    if (!project || !deployment || deployment.projectId !== project.id) {
      return failure('deploymentId', 'The project has no such deployment.', 'NOT_FOUND');
    }
    if (deployment.status !== 'READY') {
      return failure(
        'deploymentId',
        `Only a READY deployment can serve production; this one is ${deployment.status}.`,
        'CONFLICT',
      );
    }
    const refused = rules(deployment);
    if (refused) return failure('deploymentId', refused, 'CONFLICT');
    await tx.setProduction(project.id, deployment.id, pinned);
    await ctx.outbox.emit(
      client,
      deploymentEvent('deployment.promoted', deployment, {
        actor: ctx.caller,
        url: ctx.engine.projectUrl(project),
        extra: { previousDeploymentId: previous, rollback: pinned },
      }),
    );
    return { deployment, userErrors: [] };
  });
  if (result.deployment) {
    ctx.outbox.wake();
    ctx.engine.routesChanged(projectId);
    ctx.engine.published(result.deployment);
    await ctx.engine.publishProductionChange(projectId, previous);
    ctx.loaders.project.clear(projectId);
  }
  return result;
}

export async function promoteDeployment(
  ctx: DeploymentsContext,
  input: { deploymentId: string },
): Promise<DeploymentPayload> {
  const found = await deploymentForChange(ctx, input.deploymentId);
  if (!('deployment' in found) || !found.deployment) return found as DeploymentPayload;
  // A promotion also unpins: new production deployments take over again.
  return pointProduction(ctx, found.deployment.projectId, found.deployment.id, false, () => null);
}

export async function rollbackProject(
  ctx: DeploymentsContext,
  input: { projectId: string; deploymentId: string },
): Promise<DeploymentPayload> {
  const found = await projectForChange(ctx, input.projectId, 'MEMBER');
  if ('userErrors' in found) return { deployment: null, ...found };
  if (!deploymentId.safeParse(input.deploymentId).success) {
    return failure('deploymentId', 'The project has no such deployment.', 'NOT_FOUND');
  }
  const environment = await ctx.storage.environmentByName(found.project.id, 'production');
  return pointProduction(ctx, found.project.id, input.deploymentId, true, (deployment) => {
    if (deployment.id === found.project.productionDeploymentId)
      return 'This deployment already serves production.';
    return deployment.environmentId === environment?.id
      ? null
      : 'A rollback returns to an earlier production deployment; promote a preview deployment instead.';
  });
}
