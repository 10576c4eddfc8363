import { z } from 'zod';
import type {
  DeploymentRow,
  DeploymentStatus,
  DeploymentStepRow,
  EnvironmentRow,
  ProjectRow,
} from '../../../db/deployments/schema';
import { newId } from '../../../db/ids';
import { actingUserId, hasRole } from '../../common/caller';
import { renewLoaders } from '../../common/context';
import {
  badUserInput,
  graphqlError,
  refusal,
  type UserError,
  userError,
  userErrorsFromZod,
} from '../../common/errors';
import type { Outbox } from '../../common/outbox';
import { type ConnectionArgs, keysetConnection, type PageQuery } from '../../common/pagination';
import type { EventBus, LogLineMessage } from '../../common/pubsub';
import type { DeploymentEngine } from '../engine';
import { type LogType, steps } from '../runtime/runtime';
import { isSafeRef } from '../runtime/source-validation';
import type { DeploymentsScope, DeploymentsStorage } from '../storage';
import type { EnvironmentsService } from './environments';
import { deploymentEvent } from './platform-events';
import { canSee, deploymentId, type ProjectsService } from './projects';
import type { Uploads } from './uploads';

const HISTORY_PAGE = 500;

export interface DeploymentPayload {
  deployment: DeploymentRow | null;
  userErrors: UserError[];
}

/** One line of a deployment's logs, as listed and followed. */
export type LogLine = LogLineMessage & { deploymentId: string };

export interface CreateDeploymentInput {
  projectId: string;
  /** The environment's name; by default production for the production branch, preview otherwise. */
  environment?: string | null;
  /** A branch, tag or commit SHA; by default the production branch. */
  ref?: string | null;
}

export interface CreateDeploymentFromUploadInput {
  projectId: string;
  /** The environment's name; preview by default. */
  environment?: string | null;
  uploadId: string;
}

export interface DeploymentIdInput {
  deploymentId: string;
}

export interface RollbackProjectInput {
  projectId: string;
  deploymentId: string;
}

export interface DeploymentsOfProjectArgs extends ConnectionArgs {
  /** Only those of the environment with this name. */
  environment?: string | null;
  /** Only those in one of these statuses. */
  status?: DeploymentStatus[] | null;
}

export interface LogsArgs extends ConnectionArgs {
  /** Only lines of this type. */
  type?: LogType | null;
}

export interface FollowLogsInput {
  deploymentId: string;
  type?: LogType | null;
  /** Send the lines already written first. */
  fromStart?: boolean | null;
}

const failure = (field: string, message: string, code: UserError['code'] = 'INVALID'): DeploymentPayload => ({
  deployment: null,
  userErrors: [userError(['input', field], message, code)],
});

const notFound = (what: string) => graphqlError('NOT_FOUND', `No such ${what}.`);

const cancelable: DeploymentStatus[] = ['QUEUED', 'BUILDING', 'DEPLOYING'];

/** A log cursor: the line's sequence number. */
function sequence(id: string | undefined, argument: string): number | undefined {
  if (id === undefined) return undefined;
  if (!/^\d{1,15}$/.test(id))
    throw badUserInput(`\`${argument}\` is not a cursor this list gave out.`, argument);
  return Number(id);
}

export interface DeploymentsDependencies {
  storage: DeploymentsStorage;
  engine: Pick<DeploymentEngine, 'urls' | 'snapshots' | 'scheduling' | 'announcements' | 'pipeline'>;
  /** Where deployment.created/.canceled/.promoted are emitted, in the transaction of the change. */
  outbox: Outbox;
  /** What subscriptions follow: deployment changes and log lines. */
  events: EventBus;
  projects: Pick<ProjectsService, 'visible' | 'forChange'>;
  environments: Pick<EnvironmentsService, 'byName' | 'named' | 'snapshot'>;
  uploads: Pick<Uploads, 'exists'>;
}

/**
 * Deployments: who may see, create, cancel, promote and roll back them, their steps and logs,
 * and following them as they change. Every method takes the caller's scope first.
 */
export function createDeploymentsService(deps: DeploymentsDependencies) {
  const { storage, engine, outbox, events, projects, environments, uploads } = deps;

  /** The deployment, if it exists and the caller can see its organization's projects; null otherwise. */
  async function visible(scope: DeploymentsScope, id: string): Promise<DeploymentRow | null> {
    if (!deploymentId.safeParse(id).success) return null;
    const deployment = await scope.loaders.deployment.load(id);
    return deployment && canSee(scope.caller, deployment.organizationId) ? deployment : null;
  }

  /** A deployment a mutation names, if the caller may act on it (MEMBER+); a userError if they cannot see it. */
  async function forChange(
    scope: DeploymentsScope,
    id: string,
    field = 'deploymentId',
  ): Promise<{ deployment: DeploymentRow } | DeploymentPayload> {
    const { caller } = scope;
    if (caller.kind === 'anonymous') throw refusal(caller);
    const deployment = await visible(scope, id);
    if (!deployment) return failure(field, 'No such deployment.', 'NOT_FOUND');
    if (!hasRole(caller, deployment.organizationId, 'MEMBER')) {
      throw refusal(caller, 'This takes the MEMBER role or higher in the deployment’s organization.');
    }
    return { deployment };
  }

  /**
   * Queues a deployment: its row and its pipeline job commit together (a crash loses neither),
   * with a snapshot of the environment's variables as they are now.
   */
  async function queue(
    scope: DeploymentsScope,
    project: ProjectRow,
    environment: EnvironmentRow,
    source: Pick<DeploymentRow, 'sourceKind' | 'sourceUrl' | 'ref' | 'uploadId' | 'redeployOf'>,
  ): Promise<DeploymentPayload> {
    const id = newId('dpl');
    const env = await environments.snapshot(scope, environment.id);
    const deployment = await storage.transaction(async (tx, client) => {
      const row = await tx.insertDeployment({
        id,
        projectId: project.id,
        organizationId: project.organizationId,
        environmentId: environment.id,
        creatorId: actingUserId(scope.caller) ?? '',
        envEncrypted: engine.snapshots.encrypt(id, env),
        ...source,
      });
      await engine.scheduling.enqueue(client, row);
      await outbox.emit(
        client,
        deploymentEvent('deployment.created', row, {
          actor: scope.caller,
          url: engine.urls.deploymentUrl(row.id),
          extra: { environment: environment.name, redeployOf: row.redeployOf },
        }),
      );
      return row;
    });
    engine.scheduling.wake();
    outbox.wake();
    engine.announcements.published(deployment);
    return { deployment, userErrors: [] };
  }

  /** Vercel's rule when none is named: the production branch deploys to production, any other ref to preview. */
  function targetEnvironment(
    scope: DeploymentsScope,
    project: ProjectRow,
    name: string | null | undefined,
    ref: string | null,
  ) {
    const chosen = name ?? (ref === null || ref === project.productionBranch ? 'production' : 'preview');
    return environments.named(scope, project.id, chosen);
  }

  /**
   * Points a production URL at a READY deployment of the project, in one transaction with the
   * project row locked: two promotions take turns, and the edge switches for the next request.
   */
  async function pointProduction(
    scope: DeploymentsScope,
    projectId: string,
    deploymentIdValue: string,
    pinned: boolean,
    rules: (deployment: DeploymentRow) => string | null,
  ): Promise<DeploymentPayload> {
    let previous: string | null = null;
    const result = await storage.transaction(async (tx, client) => {
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
      await outbox.emit(
        client,
        deploymentEvent('deployment.promoted', deployment, {
          actor: scope.caller,
          url: engine.urls.projectUrl(project),
          extra: { previousDeploymentId: previous, rollback: pinned },
        }),
      );
      return { deployment, userErrors: [] };
    });
    if (result.deployment) {
      outbox.wake();
      engine.announcements.routesChanged(projectId);
      engine.announcements.published(result.deployment);
      await engine.announcements.publishProductionChange(projectId, previous);
      scope.loaders.project.clear(projectId);
    }
    return result;
  }

  /**
   * The deployment as the caller may see it after each change. The scope lives as long as the
   * subscription: its loaders start empty for each event, so no row cached for an earlier one
   * reaches the answer.
   */
  async function* changesOf(
    scope: DeploymentsScope,
    changes: AsyncIterable<{ id: string }>,
    first: DeploymentRow | null,
  ): AsyncGenerator<DeploymentRow> {
    if (first) {
      renewLoaders(scope.loaders);
      yield first;
    }
    for await (const change of changes) {
      renewLoaders(scope.loaders);
      const row = await storage.deployment(change.id);
      if (row && (await visible(scope, row.id))) yield row;
    }
  }

  /**
   * A deployment's log lines: the stored ones first (with `fromStart`), then each new one as it
   * is written. The live feed is joined before the history is read, and lines are handed out by
   * `seq` exactly once; a gap in the feed (a message pub/sub dropped) is filled from storage.
   */
  async function* linesOf(
    deploymentId: string,
    type: LogType | undefined,
    fromStart: boolean,
  ): AsyncGenerator<LogLine> {
    const live = events.pubsub.subscribe('deployment-logs', deploymentId)[Symbol.asyncIterator]();
    let pending = live.next(); // starts listening now, before the history is read
    let last = fromStart ? 0 : await storage.lastLogSeq(deploymentId);
    const wanted = (line: Pick<LogLineMessage, 'type'>) => !type || line.type === type;
    const stored = async function* (upTo?: number) {
      for (;;) {
        const rows = await storage.logs(deploymentId, undefined, {
          afterSeq: last,
          beforeSeq: upTo,
          limit: HISTORY_PAGE,
          descending: false,
        });
        for (const row of rows) {
          last = row.seq;
          if (wanted(row)) yield { ...row, createdAt: row.createdAt.toISOString() };
        }
        if (rows.length < HISTORY_PAGE) return;
      }
    };
    try {
      if (fromStart) yield* stored();
      for (;;) {
        const { value: batch, done } = await pending;
        if (done) return;
        pending = live.next();
        for (const line of batch as LogLineMessage[]) {
          if (line.seq <= last) continue;
          if (line.seq > last + 1) yield* stored(line.seq);
          last = line.seq;
          if (wanted(line)) yield { ...line, deploymentId };
        }
      }
    } finally {
      await live.return?.();
    }
  }

  return {
    visible,

    /** Its own URL, which keeps serving this deployment whatever production points at. */
    url(_scope: DeploymentsScope, deployment: DeploymentRow): string {
      return engine.urls.deploymentUrl(deployment.id);
    },

    /** Whether the project's production URL serves this deployment now. */
    async isProduction(scope: DeploymentsScope, deployment: DeploymentRow): Promise<boolean> {
      return (
        (await scope.loaders.project.load(deployment.projectId))?.productionDeploymentId === deployment.id
      );
    },

    /** Its pipeline steps so far, in pipeline order. */
    async steps(scope: DeploymentsScope, deployment: DeploymentRow): Promise<DeploymentStepRow[]> {
      return (await scope.loaders.stepsOfDeployment.load(deployment.id)).sort(
        (a, b) => steps.indexOf(a.step) - steps.indexOf(b.step),
      );
    },

    /** A page of a deployment's lines, oldest first: keyset pagination on the line's sequence. */
    logs(_scope: DeploymentsScope, deployment: DeploymentRow, args: LogsArgs) {
      return keysetConnection(args, async (page: PageQuery) => {
        const rows = await storage.logs(deployment.id, args.type ?? undefined, {
          afterSeq: sequence(page.afterId, 'after'),
          beforeSeq: sequence(page.beforeId, 'before'),
          limit: page.limit,
          descending: page.descending,
        });
        return rows.map((row) => ({ ...row, id: String(row.seq), createdAt: row.createdAt.toISOString() }));
      });
    },

    /** A project's deployments, newest first, optionally of one environment or in some statuses. */
    async ofProject(scope: DeploymentsScope, project: ProjectRow, args: DeploymentsOfProjectArgs) {
      if (!canSee(scope.caller, project.organizationId)) throw refusal(scope.caller);
      let environmentId: string | undefined;
      if (args.environment) {
        const environment = await environments.byName(scope, project.id, args.environment);
        if (!environment) return keysetConnection(args, async () => []);
        environmentId = environment.id;
      }
      const statuses = args.status ?? undefined;
      return keysetConnection(args, (page) =>
        storage.deploymentsOfProject(project.id, { environmentId, statuses }, page),
      );
    },

    /** Deployments a user created, newest first, in the organizations the caller sees projects of. */
    ofCreator(scope: DeploymentsScope, userId: string, args: ConnectionArgs) {
      const { caller } = scope;
      const organizations =
        caller.kind !== 'anonymous' ? Object.keys(caller.memberships).filter((id) => canSee(caller, id)) : [];
      return keysetConnection(args, (page) => storage.deploymentsOfCreator(userId, organizations, page));
    },

    /** Queues a deployment of the project's repository at a ref (MEMBER or above). */
    async create(scope: DeploymentsScope, input: CreateDeploymentInput): Promise<DeploymentPayload> {
      const parsed = z
        .object({
          ref: z.string().trim().refine(isSafeRef, 'Not a valid branch, tag or commit SHA.').nullish(),
        })
        .safeParse(input);
      if (!parsed.success) return { deployment: null, userErrors: userErrorsFromZod(parsed.error) };
      const found = await projects.forChange(scope, input.projectId, 'MEMBER');
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
      const target = await targetEnvironment(scope, project, input.environment, ref);
      if ('userErrors' in target) return { deployment: null, ...target };
      return queue(scope, project, target.environment, {
        sourceKind: 'GIT',
        sourceUrl: project.sourceUrl,
        ref,
        uploadId: null,
        redeployOf: null,
      });
    },

    /** Queues a deployment of an uploaded archive (MEMBER or above). */
    async createFromUpload(
      scope: DeploymentsScope,
      input: CreateDeploymentFromUploadInput,
    ): Promise<DeploymentPayload> {
      const found = await projects.forChange(scope, input.projectId, 'MEMBER');
      if ('userErrors' in found) return { deployment: null, ...found };
      const { project } = found;
      const upload = /^upl_[0-9A-Z]{26}$/.test(input.uploadId) ? await storage.upload(input.uploadId) : null;
      if (!upload || upload.projectId !== project.id)
        return failure('uploadId', 'No such upload.', 'NOT_FOUND');
      if (!upload.receivedAt) {
        return failure(
          'uploadId',
          'Nothing was uploaded yet: PUT the archive to the upload URL first.',
          'CONFLICT',
        );
      }
      // A CLI deploys a local folder to preview unless told otherwise, as `vercel` does.
      const target = await environments.named(scope, project.id, input.environment ?? 'preview');
      if ('userErrors' in target) return { deployment: null, ...target };
      return queue(scope, project, target.environment, {
        sourceKind: 'UPLOAD',
        sourceUrl: null,
        ref: null,
        uploadId: upload.id,
        redeployOf: null,
      });
    },

    /** Builds the same source again (same ref or upload, same environment), with the environment's current variables. */
    async redeploy(scope: DeploymentsScope, input: DeploymentIdInput): Promise<DeploymentPayload> {
      const found = await forChange(scope, input.deploymentId);
      if (!found.deployment) return found as DeploymentPayload;
      const previous = found.deployment;
      const project = await scope.loaders.project.load(previous.projectId);
      const environment = await scope.loaders.environment.load(previous.environmentId);
      if (!project || !environment) return failure('deploymentId', 'No such deployment.', 'NOT_FOUND');
      if (previous.sourceKind === 'UPLOAD' && !(await uploads.exists(previous.uploadId!))) {
        return failure(
          'deploymentId',
          'The upload this deployment was built from is gone; deploy a new one.',
          'CONFLICT',
        );
      }
      return queue(scope, project, environment, {
        sourceKind: previous.sourceKind,
        sourceUrl: previous.sourceUrl,
        // The commit it resolved to, so a redeploy rebuilds exactly what ran, even if the branch moved on.
        ref: previous.commitSha ?? previous.ref,
        uploadId: previous.uploadId,
        redeployOf: previous.id,
      });
    },

    /** Cancels a queued or building deployment (MEMBER or above); its build stops at once. */
    async cancel(scope: DeploymentsScope, input: DeploymentIdInput): Promise<DeploymentPayload> {
      const found = await forChange(scope, input.deploymentId);
      if (!found.deployment) return found as DeploymentPayload;
      const target = found.deployment;
      const canceled = await storage.transaction(async (tx, client) => {
        const row = await tx.transition(target.id, cancelable, 'CANCELED', {
          finishedAt: new Date(),
          leaseExpiresAt: null,
        });
        if (row)
          await outbox.emit(client, deploymentEvent('deployment.canceled', row, { actor: scope.caller }));
        return row;
      });
      if (!canceled) {
        const current = await storage.deployment(target.id);
        return failure(
          'deploymentId',
          `Only queued or building deployments can be canceled; this one is ${current?.status ?? 'gone'}.`,
          'CONFLICT',
        );
      }
      outbox.wake();
      engine.pipeline.canceled(canceled.id);
      engine.announcements.published(canceled);
      return { deployment: canceled, userErrors: [] };
    },

    /** Makes a READY deployment the one production serves (MEMBER or above), and unpins production. */
    async promote(scope: DeploymentsScope, input: DeploymentIdInput): Promise<DeploymentPayload> {
      const found = await forChange(scope, input.deploymentId);
      if (!found.deployment) return found as DeploymentPayload;
      // A promotion also unpins: new production deployments take over again.
      return pointProduction(scope, found.deployment.projectId, found.deployment.id, false, () => null);
    },

    /** Points production back at an earlier READY production deployment (MEMBER or above), and pins it. */
    async rollback(scope: DeploymentsScope, input: RollbackProjectInput): Promise<DeploymentPayload> {
      const found = await projects.forChange(scope, input.projectId, 'MEMBER');
      if ('userErrors' in found) return { deployment: null, ...found };
      if (!deploymentId.safeParse(input.deploymentId).success) {
        return failure('deploymentId', 'The project has no such deployment.', 'NOT_FOUND');
      }
      const environment = await environments.byName(scope, found.project.id, 'production');
      return pointProduction(scope, found.project.id, input.deploymentId, true, (deployment) => {
        if (deployment.id === found.project.productionDeploymentId)
          return 'This deployment already serves production.';
        return deployment.environmentId === environment?.id
          ? null
          : 'A rollback returns to an earlier production deployment; promote a preview deployment instead.';
      });
    },

    /** The deployment now, then again after every change, for as long as the caller can see it. */
    async follow(scope: DeploymentsScope, id: string): Promise<AsyncIterable<DeploymentRow>> {
      if (scope.caller.kind === 'anonymous') throw refusal(scope.caller);
      const deployment = await visible(scope, id);
      if (!deployment) throw notFound('deployment');
      return changesOf(scope, events.pubsub.subscribe('deployment-updated', id), deployment);
    },

    /** Each deployment of the project whenever it is created or changes. */
    async followProject(scope: DeploymentsScope, projectId: string): Promise<AsyncIterable<DeploymentRow>> {
      if (scope.caller.kind === 'anonymous') throw refusal(scope.caller);
      if (!(await projects.visible(scope, projectId))) throw notFound('project');
      return changesOf(scope, events.pubsub.subscribe('project-deployments-updated', projectId), null);
    },

    /** A deployment's log lines as they are written, every earlier one first with `fromStart`. */
    async followLogs(scope: DeploymentsScope, input: FollowLogsInput): Promise<AsyncIterable<LogLine>> {
      if (scope.caller.kind === 'anonymous') throw refusal(scope.caller);
      if (!(await visible(scope, input.deploymentId))) throw notFound('deployment');
      return linesOf(input.deploymentId, input.type ?? undefined, input.fromStart ?? true);
    },
  };
}

export type DeploymentsService = ReturnType<typeof createDeploymentsService>;
