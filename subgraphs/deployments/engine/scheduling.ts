import type pg from 'pg';
import type { DeploymentRow } from '../../../db/deployments/schema';
import type { JobQueue } from '../../common/jobs';
import type { Logger } from '../../common/logger';
import type { Outbox } from '../../common/outbox';
import type { DeploymentsSettings } from '../config';
import type { StepTimeouts } from '../runtime/runtime';
import { deploymentEvent } from '../services/platform-events';
import { activeStatuses, type DeploymentsStorage } from '../storage';
import type { Announcements } from './announcements';
import type { LogWriter } from './logs';

export const PIPELINE_QUEUE = 'deployment-pipeline';
/** A build interrupted this many times (its process died each time) ends in ERROR instead of starting over. */
export const MAX_ATTEMPTS = 3;
const SWEEP_MS = 5_000;

/** A pipeline this process runs: aborted to cancel it (or on shutdown), awaited before its deployment is removed. */
export interface RunningBuild {
  controller: AbortController;
  done: Promise<void>;
}

/** The job that runs one attempt of a deployment's pipeline. */
interface PipelineJob {
  deploymentId: string;
  attempt: number;
}

export interface SchedulingDependencies {
  storage: DeploymentsStorage;
  jobs: JobQueue;
  /** Where deployment.error is emitted when a build is given up. */
  outbox: Outbox;
  logs: LogWriter;
  announcements: Pick<Announcements, 'published'>;
  logger: Logger;
  settings: Pick<
    DeploymentsSettings,
    'RUNTIME_NODE_ID' | 'BUILD_LEASE_SECONDS' | 'BUILDS_PER_ORGANIZATION' | 'BUILD_CONCURRENCY'
  >;
  timeouts: StepTimeouts;
}

/**
 * Build slots per organization: which queued deployment builds when, on which node, and what
 * becomes of builds a dead process left behind. The pipeline job is the durable part; the
 * claim (status BUILDING, a runner and a lease) says who runs it now.
 */
export function createScheduling(deps: SchedulingDependencies) {
  const { storage, jobs, outbox, logs, announcements, logger, settings, timeouts } = deps;
  const node = settings.RUNTIME_NODE_ID;
  const leaseMs = settings.BUILD_LEASE_SECONDS * 1000;
  /** Pipelines this process runs, to cancel them and to wait for them on shutdown. */
  const running = new Map<string, RunningBuild>();
  let sweeper: NodeJS.Timeout | undefined;

  async function enqueue(
    client: pg.ClientBase,
    deployment: Pick<DeploymentRow, 'id' | 'attempt'>,
  ): Promise<void> {
    // One queued job per deployment: a dispatch that repeats itself adds nothing.
    await jobs.send(
      client,
      PIPELINE_QUEUE,
      { deploymentId: deployment.id, attempt: deployment.attempt } satisfies PipelineJob,
      { singletonKey: deployment.id },
    );
  }

  /** Sends jobs for the oldest queued deployments that fit in their organization's free build slots. */
  async function dispatch(organizationId?: string): Promise<void> {
    const queued = await storage.queued(organizationId);
    const byOrganization = new Map<string, DeploymentRow[]>();
    for (const row of queued)
      byOrganization.set(row.organizationId, [...(byOrganization.get(row.organizationId) ?? []), row]);
    for (const [organization, rows] of byOrganization) {
      const free = settings.BUILDS_PER_ORGANIZATION - (await storage.countActive(organization));
      if (free <= 0) continue;
      await storage.transaction(async (_, client) => {
        for (const row of rows.slice(0, free)) await enqueue(client, row);
      });
    }
    if (queued.length > 0) jobs.wake(PIPELINE_QUEUE);
  }

  /**
   * Starts over the builds nobody runs any more: those this node claimed before it restarted,
   * and those whose runner stopped renewing its lease. After MAX_ATTEMPTS they end in ERROR.
   */
  async function recover(): Promise<void> {
    for (const row of await storage.orphanedBuilds(node)) {
      if (running.has(row.id)) continue;
      const attempt = row.attempt + 1;
      const giveUp = attempt >= MAX_ATTEMPTS;
      const recovered = await storage.transaction(async (tx, client) => {
        if (giveUp) {
          const failed = await tx.transition(row.id, activeStatuses, 'ERROR', {
            errorMessage: `The build was interrupted ${attempt} times (the deployments service stopped while it ran). Redeploy to try again.`,
            errorStep: null,
            finishedAt: new Date(),
            leaseExpiresAt: null,
          });
          if (failed) await outbox.emit(client, deploymentEvent('deployment.error', failed));
          return failed;
        }
        const queued = await tx.transition(row.id, activeStatuses, 'QUEUED', {
          attempt,
          runner: null,
          leaseExpiresAt: null,
        });
        if (queued) {
          await tx.clearSteps(row.id);
          await enqueue(client, queued);
        }
        return queued;
      });
      if (!recovered) continue;
      if (giveUp) {
        outbox.wake();
        await storage.closeRunningSteps(row.id, 'FAILED');
      }
      await logs.system(
        recovered,
        giveUp
          ? 'The build was interrupted too many times; giving up.'
          : `The build was interrupted (the deployments service stopped); starting over (attempt ${attempt + 1}).`,
      );
      logger.warn({ deploymentId: row.id, attempt, giveUp }, 'recovered an interrupted build');
      announcements.published(recovered);
    }
  }

  return {
    running: running as ReadonlyMap<string, RunningBuild>,
    enqueue,
    dispatch,
    recover,

    /** Wakes the pipeline workers after a commit that queued a deployment. */
    wake: () => jobs.wake(PIPELINE_QUEUE),

    /** Takes a build slot for the deployment, or null if it is not queued (any more) or its organization has none free. */
    async claim(deploymentId: string, attempt: number): Promise<DeploymentRow | null> {
      const row = await storage.deployment(deploymentId);
      if (row?.status !== 'QUEUED' || row.attempt !== attempt) return null;
      return storage.transaction(async (tx) => {
        await tx.lockOrganizationSlots(row.organizationId);
        if ((await tx.countActive(row.organizationId)) >= settings.BUILDS_PER_ORGANIZATION) return null;
        return tx.transition(deploymentId, ['QUEUED'], 'BUILDING', {
          runner: node,
          leaseExpiresAt: new Date(Date.now() + leaseMs),
          buildStartedAt: new Date(),
        });
      });
    },

    /**
     * Renews the claim's lease until the returned function is called: a process that dies stops
     * renewing, and `recover` (on another node, or on this one when it comes back) starts the build over.
     */
    heartbeat(deploymentId: string): () => void {
      const timer = setInterval(
        () =>
          void storage
            .renewLease(deploymentId, node, new Date(Date.now() + leaseMs))
            .catch((error) => logger.warn({ err: error, deploymentId }, 'could not renew a build lease')),
        Math.max(1000, leaseMs / 3),
      );
      return () => clearInterval(timer);
    },

    /** Runs the claimed deployment's pipeline in this process, listed in `running` until it ends. */
    async runHere(deploymentId: string, pipeline: (signal: AbortSignal) => Promise<void>): Promise<void> {
      const controller = new AbortController();
      const done = pipeline(controller.signal).finally(() => running.delete(deploymentId));
      running.set(deploymentId, { controller, done });
      await done;
    },

    /** Declares the pipeline's queue (before any job is sent or worked). */
    async createQueue(): Promise<void> {
      await jobs.createQueue(PIPELINE_QUEUE, {
        policy: 'short',
        retryLimit: 3,
        retryDelay: 5,
        retryBackoff: true,
        // A run never outlives the sum of its steps' timeouts; past that pg-boss hands it out again.
        expireInSeconds: Math.ceil(Object.values(timeouts).reduce((a, b) => a + b, 0) / 1000) + 120,
      });
    },

    /** Runs `run` for each pipeline job, BUILD_CONCURRENCY at a time in this process. */
    async work(run: (deploymentId: string, attempt: number) => Promise<void>): Promise<void> {
      await jobs.work<PipelineJob>(
        PIPELINE_QUEUE,
        { concurrency: settings.BUILD_CONCURRENCY, pollingIntervalSeconds: 1 },
        (job) => run(job.data.deploymentId, job.data.attempt),
      );
    },

    /** Every few seconds: recover what a dead process left, then dispatch what fits. */
    startSweeper(): void {
      sweeper = setInterval(
        () =>
          void recover()
            .then(() => dispatch())
            .catch((error) => logger.warn({ err: error }, 'deployment sweep failed')),
        SWEEP_MS,
      );
      sweeper.unref();
    },

    stopSweeper(): void {
      if (sweeper) clearInterval(sweeper);
    },
  };
}

export type Scheduling = ReturnType<typeof createScheduling>;
