import type pg from 'pg';
import type { DeploymentRow, DeploymentStatus, ProjectRow } from '../../../db/deployments/schema';
import type { Encryptor } from '../../common/encryption';
import type { JobQueue } from '../../common/jobs';
import type { Logger } from '../../common/logger';
import type { Outbox } from '../../common/outbox';
import type { EventBus } from '../../common/pubsub';
import type { DeploymentsConfig } from '../config';
import type { EdgeRoute } from '../runtime/edge-router';
import { deploymentIdFromLabel, deploymentLabel, edgeUrl } from '../runtime/hostnames';
import {
  type BuildOutput,
  Canceled,
  type Instance,
  type InstanceEvent,
  type PipelineHooks,
  type Runtime,
  type Step,
  StepFailure,
  type StepTimeouts,
} from '../runtime/runtime';
import { activeStatuses, type DeploymentsStorage } from '../storage';
import type { LogWriter } from './log-writer';
import { deploymentEvent } from './platform-events';

export const PIPELINE_QUEUE = 'deployment-pipeline';
/** A build interrupted this many times (its process died each time) ends in ERROR instead of starting over. */
export const MAX_ATTEMPTS = 3;
const SWEEP_MS = 5_000;

/** The abort reason when this process shuts down: the build is left to be started over, not failed. */
class ShuttingDown extends Error {
  constructor() {
    super('The deployments service is shutting down.');
  }
}

export interface EngineOptions {
  storage: DeploymentsStorage;
  jobs: JobQueue;
  /** Where deployment.ready/.error/.crashed/.promoted are emitted, with the transition that causes them. */
  outbox: Outbox;
  runtime: Runtime;
  logs: LogWriter;
  events: EventBus;
  logger: Logger;
  config: DeploymentsConfig;
  encryptor: Encryptor;
  /** Where the upload of a deployment is kept, for the runtime to unpack. */
  uploadPath(uploadId: string): string;
}

/** How a deployment's environment snapshot is bound, so it decrypts for that deployment only. */
const envContext = (deploymentId: string) => `deployment-env:${deploymentId}`;

/**
 * Runs deployments from QUEUED to READY (or ERROR) and keeps them running: the durable
 * pipeline on the job queue, per-organization build slots, recovery of builds a dead process
 * left behind, crash handling, and what the edge routes where. The GraphQL services change
 * rows and call it; it never decides who may do what.
 */
export function createDeploymentEngine(options: EngineOptions) {
  const { storage, jobs, outbox, runtime, logs, events, logger, config, encryptor } = options;
  const node = config.RUNTIME_NODE_ID;
  const timeouts: StepTimeouts = {
    sourceMs: config.SOURCE_TIMEOUT_SECONDS * 1000,
    installMs: config.INSTALL_TIMEOUT_SECONDS * 1000,
    buildMs: config.BUILD_TIMEOUT_SECONDS * 1000,
    startMs: config.START_TIMEOUT_SECONDS * 1000,
    healthcheckMs: config.HEALTHCHECK_TIMEOUT_SECONDS * 1000,
  };
  const leaseMs = config.BUILD_LEASE_SECONDS * 1000;
  /** Pipelines this process runs, to cancel them and to wait for them on shutdown. */
  const pipelines = new Map<string, { controller: AbortController; done: Promise<void> }>();
  /** Instances this process runs (the local runtime's truth; a restart of the process empties it). */
  const instances = new Map<string, Instance>();
  const starting = new Map<string, Promise<Instance | null>>();
  let edgePort: number | null = null;
  let sweeper: NodeJS.Timeout | undefined;
  let closed = false;
  const listeners: AsyncIterator<unknown>[] = [];

  // ---------------------------------------------------------------- publishing

  function published(row: DeploymentRow | null): DeploymentRow | null {
    if (row) {
      const change = { id: row.id, projectId: row.projectId, status: row.status };
      events.pubsub.publish('deployment-updated', row.id, change);
      events.pubsub.publish('project-deployments-updated', row.projectId, change);
    }
    return row;
  }

  /** The deployment that stopped serving production changed too (`isProduction`): its followers hear of it. */
  async function publishProductionChange(projectId: string, previous: string | null): Promise<void> {
    if (!previous) return;
    const [project] = await storage.projectsByIds([projectId]);
    if (project && project.productionDeploymentId !== previous) published(await storage.deployment(previous));
  }

  /**
   * A status change that is also a platform event: the row and its event commit together (a
   * crash between them would otherwise lose the event or announce a change that never happened).
   */
  async function announcedTransition(
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
  }

  function routesChanged(projectId: string): void {
    events.pubsub.publish('edge-routes-changed', projectId);
  }

  // ---------------------------------------------------------------- URLs

  const address = () => ({
    scheme: config.EDGE_PUBLIC_SCHEME,
    baseDomain: config.EDGE_BASE_DOMAIN,
    port: config.EDGE_PUBLIC_PORT ?? edgePort ?? config.EDGE_PORT,
  });

  // ---------------------------------------------------------------- environment

  function encryptEnv(deploymentId: string, env: Record<string, string>): string {
    return encryptor.encrypt(JSON.stringify(env), envContext(deploymentId));
  }

  function runEnv(deployment: DeploymentRow, environmentName: string): Record<string, string> {
    const env = JSON.parse(encryptor.decrypt(deployment.envEncrypted, envContext(deployment.id))) as Record<
      string,
      string
    >;
    return {
      ...env,
      CONSTRUCT_DEPLOYMENT_ID: deployment.id,
      CONSTRUCT_ENVIRONMENT: environmentName,
      CONSTRUCT_DEPLOYMENT_URL: edgeUrl(deploymentLabel(deployment.id), address()),
      ...(deployment.commitSha ? { CONSTRUCT_GIT_COMMIT_SHA: deployment.commitSha } : {}),
    };
  }

  /** Values the logs must never show: every variable the user set for the environment. */
  function secretsOf(deployment: DeploymentRow): string[] {
    try {
      return Object.values(
        JSON.parse(encryptor.decrypt(deployment.envEncrypted, envContext(deployment.id))) as Record<
          string,
          string
        >,
      );
    } catch {
      return [];
    }
  }

  // ---------------------------------------------------------------- scheduling

  async function enqueue(
    client: pg.ClientBase,
    deployment: Pick<DeploymentRow, 'id' | 'attempt'>,
  ): Promise<void> {
    // One queued job per deployment: a dispatch that repeats itself adds nothing.
    await jobs.send(
      client,
      PIPELINE_QUEUE,
      { deploymentId: deployment.id, attempt: deployment.attempt },
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
      const free = config.BUILDS_PER_ORGANIZATION - (await storage.countActive(organization));
      if (free <= 0) continue;
      await storage.transaction(async (_, client) => {
        for (const row of rows.slice(0, free)) await enqueue(client, row);
      });
    }
    if (queued.length > 0) jobs.wake(PIPELINE_QUEUE);
  }

  /** Takes a build slot for the deployment, or null if it is not queued (any more) or its organization has none free. */
  async function claim(deploymentId: string, attempt: number): Promise<DeploymentRow | null> {
    const row = await storage.deployment(deploymentId);
    if (row?.status !== 'QUEUED' || row.attempt !== attempt) return null;
    return storage.transaction(async (tx) => {
      await tx.lockOrganizationSlots(row.organizationId);
      if ((await tx.countActive(row.organizationId)) >= config.BUILDS_PER_ORGANIZATION) return null;
      return tx.transition(deploymentId, ['QUEUED'], 'BUILDING', {
        runner: node,
        leaseExpiresAt: new Date(Date.now() + leaseMs),
        buildStartedAt: new Date(),
      });
    });
  }

  /**
   * Starts over the builds nobody runs any more: those this node claimed before it restarted,
   * and those whose runner stopped renewing its lease. After MAX_ATTEMPTS they end in ERROR.
   */
  async function recover(): Promise<void> {
    for (const row of await storage.orphanedBuilds(node)) {
      if (pipelines.has(row.id)) continue;
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
      await systemLine(
        recovered,
        giveUp
          ? 'The build was interrupted too many times; giving up.'
          : `The build was interrupted (the deployments service stopped); starting over (attempt ${attempt + 1}).`,
      );
      logger.warn({ deploymentId: row.id, attempt, giveUp }, 'recovered an interrupted build');
      published(recovered);
    }
  }

  async function systemLine(deployment: DeploymentRow, line: string, type: 'BUILD' | 'RUNTIME' = 'BUILD') {
    const log = await logs.open(deployment.id, secretsOf(deployment));
    log.sink(type, 'SYSTEM', line);
    await log.flush();
  }

  // ---------------------------------------------------------------- the pipeline

  async function runJob(deploymentId: string, attempt: number): Promise<void> {
    if (closed) throw new ShuttingDown();
    const claimed = await claim(deploymentId, attempt);
    if (!claimed) return;
    published(claimed);
    const controller = new AbortController();
    const done = execute(claimed, controller.signal).finally(() => pipelines.delete(deploymentId));
    pipelines.set(deploymentId, { controller, done });
    await done;
    // A slot is free: the organization's next queued deployment need not wait for the sweeper.
    await dispatch(claimed.organizationId).catch((error) => logger.warn({ err: error }, 'dispatch failed'));
  }

  function recordingSteps(deployment: DeploymentRow): PipelineHooks['step'] {
    return async (step, run, stepOptions) => {
      const startedAt = new Date();
      const record = async (outcome: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'CANCELED') => {
        await storage.recordStep({
          deploymentId: deployment.id,
          step,
          outcome,
          startedAt,
          finishedAt: outcome === 'RUNNING' ? null : new Date(),
        });
        published(deployment);
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

  async function execute(deployment: DeploymentRow, signal: AbortSignal): Promise<void> {
    const id = deployment.id;
    const heartbeat = setInterval(
      () =>
        void storage
          .renewLease(id, node, new Date(Date.now() + leaseMs))
          .catch((error) => logger.warn({ err: error, deploymentId: id }, 'could not renew a build lease')),
      Math.max(1000, leaseMs / 3),
    );
    const log = await logs.open(id, secretsOf(deployment));
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
      const env = runEnv(deployment, environment.name);
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
              : { kind: 'upload', archivePath: options.uploadPath(deployment.uploadId!) },
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
      published(deploying);
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
      starting.set(id, Promise.resolve(instance));
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
        const url = edgeUrl(deploymentLabel(id), address());
        await outbox.emit(client, deploymentEvent('deployment.ready', row, { url }));
        // The newest production build takes over the production URL, unless a rollback pinned it.
        if (
          environment.kind === 'PRODUCTION' &&
          locked &&
          (await tx.takeProductionIfNewest(project.id, id))
        ) {
          await outbox.emit(
            client,
            deploymentEvent('deployment.promoted', row, {
              url: edgeUrl(locked.hostLabel, address()),
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
      await publishProductionChange(project.id, previousProduction);
      // Served from now on, not before: the edge answers for READY deployments only.
      instances.set(id, instance);
      starting.delete(id);
      routesChanged(project.id);
      log.sink('BUILD', 'SYSTEM', `Ready at ${edgeUrl(deploymentLabel(id), address())}`);
      published(ready);
    } catch (error) {
      await failed(deployment, error, step, signal);
    } finally {
      clearInterval(heartbeat);
      await log.flush();
    }
  }

  async function failed(deployment: DeploymentRow, error: unknown, step: Step, signal: AbortSignal) {
    const id = deployment.id;
    instances.delete(id);
    starting.delete(id);
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
      else await systemLine(deployment, 'Canceled.');
      await logs.release(id);
      published(row);
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
    const row = await announcedTransition(
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
    await systemLine(deployment, `Error: ${message}`);
    await logs.release(id);
    published(row ?? (await storage.deployment(id)));
  }

  // ---------------------------------------------------------------- running instances

  /** Starts a READY deployment's instance again from its build (after a restart of this process). */
  function ensureStarted(deployment: DeploymentRow): Promise<Instance | null> {
    const running = instances.get(deployment.id);
    if (running) return Promise.resolve(running);
    const pending = starting.get(deployment.id);
    if (pending) return pending;
    const start = (async (): Promise<Instance | null> => {
      if (closed || !deployment.build || !(await runtime.hasBuild(deployment.id))) return null;
      const [project] = await storage.projectsByIds([deployment.projectId]);
      const [environment] = await storage.environmentsByIds([deployment.environmentId]);
      if (!project || !environment) return null;
      const log = await logs.open(deployment.id, secretsOf(deployment));
      try {
        const instance = await runtime.start(
          {
            deploymentId: deployment.id,
            build: deployment.build as BuildOutput,
            env: runEnv(deployment, environment.name),
            healthcheckPath: project.healthcheckPath,
            timeouts,
          },
          { signal: new AbortController().signal, log: log.sink, step: (_, run) => run() },
        );
        instances.set(deployment.id, instance);
        return instance;
      } catch (error) {
        const message = error instanceof StepFailure ? error.message : 'The app could not be started again.';
        log.sink('RUNTIME', 'SYSTEM', `Could not start the app again: ${message}`);
        published(
          await announcedTransition(
            deployment.id,
            ['READY'],
            'CRASHED',
            { errorMessage: message },
            'deployment.crashed',
          ),
        );
        routesChanged(deployment.projectId);
        return null;
      }
    })().finally(() => starting.delete(deployment.id));
    starting.set(deployment.id, start);
    return start;
  }

  async function onInstanceEvent(event: InstanceEvent): Promise<void> {
    const row = await storage.deployment(event.deploymentId);
    if (!row) return;
    if (event.kind === 'crashed') {
      instances.delete(row.id);
      const why = event.signal ? `was killed by ${event.signal}` : `exited with code ${event.exitCode}`;
      await systemLine(
        row,
        `The app ${why}; restarting in ${Math.round(event.restartInMs / 100) / 10} s.`,
        'RUNTIME',
      );
      published(
        await storage.transition(row.id, ['READY', 'CRASHED'], 'CRASHED', {
          errorMessage: `The app ${why}.`,
        }),
      );
    } else if (event.kind === 'restarted') {
      instances.set(row.id, event.instance);
      await systemLine(row, 'The app is running again.', 'RUNTIME');
      published(await storage.transition(row.id, ['CRASHED'], 'READY', { errorMessage: null }));
    } else {
      instances.delete(row.id);
      const message = `The app crashed ${event.restarts + 1} times in a row and is not restarted again. Redeploy to try again.`;
      await systemLine(row, message, 'RUNTIME');
      // CRASHED for good: the edge answers 503 and does not start it again.
      published(
        await announcedTransition(
          row.id,
          ['READY', 'CRASHED'],
          'CRASHED',
          { errorMessage: message },
          'deployment.crashed',
        ),
      );
      await logs.release(row.id);
    }
    routesChanged(row.projectId);
  }

  // ---------------------------------------------------------------- the edge

  /** What a host label serves now: a deployment's own label, or a project's production deployment. */
  async function lookup(label: string): Promise<EdgeRoute | null> {
    let deploymentId = deploymentIdFromLabel(label);
    if (!deploymentId) {
      const project: ProjectRow | null = await storage.projectByHostLabel(label);
      deploymentId = project?.productionDeploymentId ?? null;
    }
    if (!deploymentId) return null;
    const running = instances.get(deploymentId);
    if (running) return { target: running.target, deploymentId };
    const deployment = await storage.deployment(deploymentId);
    if (!deployment) return null;
    const servable: DeploymentStatus[] = ['READY'];
    if (!servable.includes(deployment.status)) {
      if (deployment.status === 'CRASHED') throw new Error('The deployment crashed.');
      return null;
    }
    const instance = await ensureStarted(deployment);
    if (!instance) throw new Error('The deployment could not be started.');
    return { target: instance.target, deploymentId };
  }

  // ---------------------------------------------------------------- lifecycle

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
    address,
    encryptEnv,
    enqueue,
    routesChanged,
    published,
    publishProductionChange,
    deploymentUrl: (id: string) => edgeUrl(deploymentLabel(id), address()),
    projectUrl: (project: Pick<ProjectRow, 'hostLabel'>) => edgeUrl(project.hostLabel, address()),
    lookup,
    /** Wakes the pipeline workers after a commit that queued a deployment. */
    wake: () => jobs.wake(PIPELINE_QUEUE),

    /** Starts the workers, recovers what a previous run left, and starts production deployments again. */
    async start(): Promise<void> {
      await jobs.createQueue(PIPELINE_QUEUE, {
        policy: 'short',
        retryLimit: 3,
        retryDelay: 5,
        retryBackoff: true,
        // A run never outlives the sum of its steps' timeouts; past that pg-boss hands it out again.
        expireInSeconds: Math.ceil(Object.values(timeouts).reduce((a, b) => a + b, 0) / 1000) + 120,
      });
      runtime.onInstanceEvent(
        (event) =>
          void onInstanceEvent(event).catch((error) =>
            logger.error({ err: error, event }, 'could not record an instance event'),
          ),
      );
      void listen(events.pubsub.subscribe('deployment-canceled'), (id: string) =>
        pipelines.get(id)?.controller.abort(new Canceled()),
      );
      await recover();
      await jobs.work<{ deploymentId: string; attempt: number }>(
        PIPELINE_QUEUE,
        { concurrency: config.BUILD_CONCURRENCY, pollingIntervalSeconds: 1 },
        (job) => runJob(job.data.deploymentId, job.data.attempt),
      );
      await dispatch();
      sweeper = setInterval(
        () =>
          void recover()
            .then(() => dispatch())
            .catch((error) => logger.warn({ err: error }, 'deployment sweep failed')),
        SWEEP_MS,
      );
      sweeper.unref();
      // Production deployments come back without waiting for their first visitor; others start on demand.
      void storage
        .productionDeployments()
        .then((rows) =>
          Promise.all(rows.filter((row) => row.status === 'READY').map((row) => ensureStarted(row))),
        )
        .catch((error) => logger.error({ err: error }, 'could not start production deployments again'));
    },
    setEdgePort(port: number) {
      edgePort = port;
    },

    /** After a commit that canceled it: whichever process runs the build stops it. */
    canceled(deploymentId: string): void {
      events.pubsub.publish('deployment-canceled', deploymentId);
    },

    /** After a commit that removed them: stop pipelines and instances, delete their builds. */
    async removed(rows: DeploymentRow[]): Promise<void> {
      for (const row of rows) {
        events.pubsub.publish('deployment-canceled', row.id);
        published(row);
      }
      await Promise.all(
        rows.map(async (row) => {
          await pipelines.get(row.id)?.done;
          instances.delete(row.id);
          await runtime
            .remove(row.id)
            .catch((error) => logger.warn({ err: error }, 'could not remove a build'));
          await logs.release(row.id);
        }),
      );
    },

    async close(): Promise<void> {
      closed = true;
      if (sweeper) clearInterval(sweeper);
      for (const listener of listeners) await listener.return?.();
      for (const { controller } of pipelines.values()) controller.abort(new ShuttingDown());
      await Promise.allSettled([...pipelines.values()].map((p) => p.done));
      // Apps first: they are this process's children, and must not outlive it whatever follows.
      await runtime.close();
      await logs.close();
      await jobs.close();
    },
  };
}

export type DeploymentEngine = ReturnType<typeof createDeploymentEngine>;
