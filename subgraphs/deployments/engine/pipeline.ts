import type { DeploymentRow } from '../../../db/deployments/schema';
import type { Logger } from '../../common/logger';
import type { Outbox } from '../../common/outbox';
import type { EventBus } from '../../common/pubsub';
import {
  Canceled,
  type PipelineHooks,
  type Runtime,
  type Step,
  StepFailure,
  type StepTimeouts,
} from '../runtime/runtime';
import { deploymentEvent } from '../services/platform-events';
import type { DeploymentsStorage } from '../storage';
import type { Announcements } from './announcements';
import type { Instances } from './instances';
import type { LogWriter } from './logs';
import type { Scheduling } from './scheduling';
import type { Snapshots } from './snapshots';
import type { Urls } from './urls';

/** The abort reason when this process shuts down: the build is left to be started over, not failed. */
class ShuttingDown extends Error {
  constructor() {
    super('The deployments service is shutting down.');
  }
}

type StepOutcome = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'CANCELED';

export interface PipelineDependencies {
  storage: DeploymentsStorage;
  runtime: Runtime;
  /** Where deployment.ready/.promoted are emitted, with the commit of READY. */
  outbox: Outbox;
  /** `deployment-canceled`: heard here, from whichever process canceled. */
  events: EventBus;
  logs: LogWriter;
  snapshots: Snapshots;
  urls: Urls;
  announcements: Announcements;
  scheduling: Scheduling;
  instances: Instances;
  logger: Logger;
  timeouts: StepTimeouts;
  /** Where the upload of a deployment is kept, for the runtime to unpack. */
  uploadPath(uploadId: string): string;
}

/**
 * One deployment's way from a claimed build slot to READY (or ERROR, or CANCELED): the job
 * handler, the runtime's steps as they are recorded, the commit of READY with the production
 * pointer, and what a failure, a cancel or a shutdown leaves behind.
 */
export function createPipeline(deps: PipelineDependencies) {
  const { storage, runtime, outbox, events, logs, snapshots, urls, announcements, scheduling, instances } =
    deps;
  const { logger, timeouts } = deps;
  let closed = false;
  const listeners: AsyncIterator<unknown>[] = [];

  /** The pipeline job: claims a build slot for this attempt, runs it, then lets the next one in. */
  async function run(deploymentId: string, attempt: number): Promise<void> {
    if (closed) throw new ShuttingDown();
    const claimed = await scheduling.claim(deploymentId, attempt);
    if (!claimed) return;
    announcements.published(claimed);
    await scheduling.runHere(deploymentId, (signal) => execute(claimed, signal));
    // A slot is free: the organization's next queued deployment need not wait for the sweeper.
    await scheduling
      .dispatch(claimed.organizationId)
      .catch((error) => logger.warn({ err: error }, 'dispatch failed'));
  }

  function recordingSteps(deployment: DeploymentRow): PipelineHooks['step'] {
    return async (step, run, stepOptions) => {
      const startedAt = new Date();
      const record = async (outcome: StepOutcome) => {
        await storage.recordStep({
          deploymentId: deployment.id,
          step,
          outcome,
          startedAt,
          finishedAt: outcome === 'RUNNING' ? null : new Date(),
        });
        announcements.published(deployment);
      };
      if (stepOptions?.skipped) {
        const result = await run();
        await record('SKIPPED');
        return result;
      }
      await record('RUNNING');
      try {
        const result = await run();
        await record('SUCCEEDED');
        return result;
      } catch (error) {
        await record(error instanceof Canceled || error instanceof ShuttingDown ? 'CANCELED' : 'FAILED');
        throw error;
      }
    };
  }

  /** SOURCE → INSTALL → BUILD (`runtime.build`), START → HEALTHCHECK (`runtime.start`), then ROUTE: READY. */
  async function execute(deployment: DeploymentRow, signal: AbortSignal): Promise<void> {
    const id = deployment.id;
    const stopHeartbeat = scheduling.heartbeat(id);
    const log = await logs.open(deployment);
    let commitRecorded: Promise<void> = Promise.resolve();
    const hooks: PipelineHooks = {
      signal,
      log: log.sink,
      step: recordingSteps(deployment),
      // Recorded as soon as it is known: a build that fails later still says what it built.
      sourceFetched: (commitSha) => {
        commitRecorded = storage
          .updateDeployment(id, { commitSha })
          .catch((error) => logger.warn({ err: error, deploymentId: id }, 'could not record the commit'));
      },
    };
    let step: Step = 'SOURCE';
    const tracked: PipelineHooks = {
      ...hooks,
      step: (s, run, o) => {
        step = s;
        return hooks.step(s, run, o);
      },
    };
    try {
      const [project] = await storage.projectsByIds([deployment.projectId]);
      const [environment] = await storage.environmentsByIds([deployment.environmentId]);
      if (!project || !environment) throw new Canceled();
      const env = snapshots.runEnvironment(deployment, environment.name);
      log.sink(
        'BUILD',
        'SYSTEM',
        deployment.sourceKind === 'GIT'
          ? `Deploying ${project.slug} to ${environment.name} from ${deployment.ref}`
          : `Deploying ${project.slug} to ${environment.name} from an upload`,
      );
      const build = await runtime.build(
        {
          deploymentId: id,
          source:
            deployment.sourceKind === 'GIT'
              ? { kind: 'git', url: deployment.sourceUrl!, ref: deployment.ref! }
              : { kind: 'upload', archivePath: deps.uploadPath(deployment.uploadId!) },
          rootDirectory: project.rootDirectory,
          commands: {
            install: project.installCommand,
            build: project.buildCommand,
            start: project.startCommand,
          },
          env,
          timeouts,
        },
        tracked,
      );
      await commitRecorded;
      const deploying = await storage.transition(id, ['BUILDING'], 'DEPLOYING', {
        build,
        commitSha: build.commitSha,
      });
      if (!deploying) throw new Canceled();
      announcements.published(deploying);
      await storage.updateProject(project.id, { framework: build.framework });
      const instance = await runtime.start(
        {
          deploymentId: id,
          build,
          env: { ...env, ...(build.commitSha ? { CONSTRUCT_GIT_COMMIT_SHA: build.commitSha } : {}) },
          healthcheckPath: project.healthcheckPath,
          timeouts,
        },
        tracked,
      );
      // ROUTE is recorded by hand: READY, the production URL and the step's success commit
      // together, so no reader sees a READY deployment whose pipeline is still running.
      step = 'ROUTE';
      // A visitor who reads READY before this code runs on finds this instance, not a second start.
      instances.starting(id, instance);
      const routeStarted = new Date();
      await storage.recordStep({
        deploymentId: id,
        step,
        outcome: 'RUNNING',
        startedAt: routeStarted,
        finishedAt: null,
      });
      let previousProduction: string | null = null;
      const ready = await storage.transaction(async (tx, client) => {
        const locked = await tx.lockProject(project.id);
        previousProduction = locked?.productionDeploymentId ?? null;
        const row = await tx.transition(id, ['DEPLOYING'], 'READY', {
          readyAt: new Date(),
          leaseExpiresAt: null,
        });
        if (!row) return null;
        await outbox.emit(client, deploymentEvent('deployment.ready', row, { url: urls.deploymentUrl(id) }));
        // The newest production build takes over the production URL, unless a rollback pinned it.
        if (
          environment.kind === 'PRODUCTION' &&
          locked &&
          (await tx.takeProductionIfNewest(project.id, id))
        ) {
          await outbox.emit(
            client,
            deploymentEvent('deployment.promoted', row, {
              url: urls.projectUrl(locked),
              extra: { previousDeploymentId: previousProduction, rollback: false },
            }),
          );
        }
        await tx.recordStep({
          deploymentId: id,
          step: 'ROUTE',
          outcome: 'SUCCEEDED',
          startedAt: routeStarted,
          finishedAt: new Date(),
        });
        return row;
      });
      if (!ready) throw new Canceled();
      outbox.wake();
      await announcements.publishProductionChange(project.id, previousProduction);
      // Served from now on, not before: the edge answers for READY deployments only.
      instances.serving(id, instance);
      announcements.routesChanged(project.id);
      log.sink('BUILD', 'SYSTEM', `Ready at ${urls.deploymentUrl(id)}`);
      announcements.published(ready);
    } catch (error) {
      await failed(deployment, error, step, signal);
    } finally {
      stopHeartbeat();
      await log.flush();
    }
  }

  /** What a pipeline that did not reach READY leaves: ERROR (or CANCELED) and its last words, or nothing on shutdown. */
  async function failed(deployment: DeploymentRow, error: unknown, step: Step, signal: AbortSignal) {
    const id = deployment.id;
    instances.forget(id);
    if (signal.reason instanceof ShuttingDown) {
      // Left BUILDING with this node as runner: the next start of this node starts it over.
      await runtime.stop(id).catch(() => {});
      return;
    }
    const reason = signal.aborted ? signal.reason : error;
    if (reason instanceof Canceled) {
      await runtime.stop(id).catch(() => {});
      await storage.closeRunningSteps(id, 'CANCELED');
      const row = await storage.deployment(id);
      if (row?.status === 'REMOVED') await runtime.remove(id).catch(() => {});
      else await logs.system(deployment, 'Canceled.');
      await logs.release(id);
      announcements.published(row);
      return;
    }
    const tooLarge = (reason as NodeJS.ErrnoException | undefined)?.code === 'E2BIG';
    const message =
      reason instanceof StepFailure
        ? reason.message
        : tooLarge
          ? 'The environment’s variables are too large for the operating system to start a process with. Remove or shorten some, then redeploy.'
          : `The deployment failed because of an internal error during ${step.toLowerCase()}. Try again; if it keeps failing, contact support.`;
    if (!(reason instanceof StepFailure) && !tooLarge) {
      logger.error({ err: reason, deploymentId: id, step }, 'pipeline failed');
    }
    await runtime.stop(id).catch(() => {});
    const row = await announcements.announcedTransition(
      id,
      ['BUILDING', 'DEPLOYING'],
      'ERROR',
      {
        errorMessage: message,
        errorStep: reason instanceof StepFailure ? reason.step : step,
        finishedAt: new Date(),
        leaseExpiresAt: null,
      },
      'deployment.error',
    );
    await storage.closeRunningSteps(id, 'FAILED');
    await logs.system(deployment, `Error: ${message}`);
    await logs.release(id);
    announcements.published(row ?? (await storage.deployment(id)));
  }

  async function listen<T>(iterator: AsyncIterableIterator<T>, handle: (value: T) => unknown): Promise<void> {
    listeners.push(iterator);
    for await (const value of iterator) {
      try {
        await handle(value);
      } catch (error) {
        logger.warn({ err: error }, 'deployments event handler failed');
      }
    }
  }

  return {
    run,

    /** After a commit that canceled it: whichever process runs the build stops it. */
    canceled(deploymentId: string): void {
      events.pubsub.publish('deployment-canceled', deploymentId);
    },

    /** Stops the pipelines of this process whose deployment any process canceled or removed. */
    listenForCancels(): void {
      void listen(events.pubsub.subscribe('deployment-canceled'), (id: string) =>
        scheduling.running.get(id)?.controller.abort(new Canceled()),
      );
    },

    /** Shutdown: no job starts from now on, and running builds stop to be started over, not failed. */
    async shutdown(): Promise<void> {
      closed = true;
      for (const listener of listeners) await listener.return?.();
      const running = [...scheduling.running.values()];
      for (const { controller } of running) controller.abort(new ShuttingDown());
      await Promise.allSettled(running.map((p) => p.done));
    },
  };
}

export type Pipeline = ReturnType<typeof createPipeline>;
