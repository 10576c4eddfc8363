import type { DeploymentRow, DeploymentStatus, ProjectRow } from '../../../db/deployments/schema';
import type { Logger } from '../../common/logger';
import type { EventBus } from '../../common/pubsub';
import type { EdgeRoute } from '../runtime/edge-router';
import { deploymentIdFromLabel } from '../runtime/hostnames';
import {
  type BuildOutput,
  type Instance,
  type InstanceEvent,
  type Runtime,
  StepFailure,
  type StepTimeouts,
} from '../runtime/runtime';
import type { DeploymentsStorage } from '../storage';
import type { Announcements } from './announcements';
import type { LogWriter } from './logs';
import type { RunningBuild } from './scheduling';
import type { Snapshots } from './snapshots';

export interface InstancesDependencies {
  storage: DeploymentsStorage;
  runtime: Runtime;
  logs: LogWriter;
  snapshots: Snapshots;
  announcements: Announcements;
  /** `deployment-canceled` stops a removed deployment's pipeline, whichever process runs it. */
  events: EventBus;
  /** The pipelines this process runs: a removal waits for its deployment's to end. */
  running: ReadonlyMap<string, RunningBuild>;
  logger: Logger;
  timeouts: StepTimeouts;
}

/**
 * Supervision of what runs: the instances of READY deployments in this process, their crashes
 * and restarts, starting one again on its first visit, and what the edge serves for a host.
 */
export function createInstances(deps: InstancesDependencies) {
  const { storage, runtime, logs, snapshots, announcements, events, running, logger, timeouts } = deps;
  /** Instances this process runs (the local runtime's truth; a restart of the process empties it). */
  const instances = new Map<string, Instance>();
  const starting = new Map<string, Promise<Instance | null>>();
  let closed = false;

  /** Starts a READY deployment's instance again from its build (after a restart of this process). */
  function ensureStarted(deployment: DeploymentRow): Promise<Instance | null> {
    const live = instances.get(deployment.id);
    if (live) return Promise.resolve(live);
    const pending = starting.get(deployment.id);
    if (pending) return pending;
    const start = (async (): Promise<Instance | null> => {
      if (closed || !deployment.build || !(await runtime.hasBuild(deployment.id))) return null;
      const [project] = await storage.projectsByIds([deployment.projectId]);
      const [environment] = await storage.environmentsByIds([deployment.environmentId]);
      if (!project || !environment) return null;
      const log = await logs.open(deployment);
      try {
        const instance = await runtime.start(
          {
            deploymentId: deployment.id,
            build: deployment.build as BuildOutput,
            env: snapshots.runEnvironment(deployment, environment.name),
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
        announcements.published(
          await announcements.announcedTransition(
            deployment.id,
            ['READY'],
            'CRASHED',
            { errorMessage: message },
            'deployment.crashed',
          ),
        );
        announcements.routesChanged(deployment.projectId);
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
      await logs.system(
        row,
        `The app ${why}; restarting in ${Math.round(event.restartInMs / 100) / 10} s.`,
        'RUNTIME',
      );
      announcements.published(
        await storage.transition(row.id, ['READY', 'CRASHED'], 'CRASHED', {
          errorMessage: `The app ${why}.`,
        }),
      );
    } else if (event.kind === 'restarted') {
      instances.set(row.id, event.instance);
      await logs.system(row, 'The app is running again.', 'RUNTIME');
      announcements.published(await storage.transition(row.id, ['CRASHED'], 'READY', { errorMessage: null }));
    } else {
      instances.delete(row.id);
      const message = `The app crashed ${event.restarts + 1} times in a row and is not restarted again. Redeploy to try again.`;
      await logs.system(row, message, 'RUNTIME');
      // CRASHED for good: the edge answers 503 and does not start it again.
      announcements.published(
        await announcements.announcedTransition(
          row.id,
          ['READY', 'CRASHED'],
          'CRASHED',
          { errorMessage: message },
          'deployment.crashed',
        ),
      );
      await logs.release(row.id);
    }
    announcements.routesChanged(row.projectId);
  }

  return {
    ensureStarted,

    /** What a host label serves now: a deployment's own label, or a project's production deployment. */
    async lookup(label: string): Promise<EdgeRoute | null> {
      let deploymentId = deploymentIdFromLabel(label);
      if (!deploymentId) {
        const project: ProjectRow | null = await storage.projectByHostLabel(label);
        deploymentId = project?.productionDeploymentId ?? null;
      }
      if (!deploymentId) return null;
      const live = instances.get(deploymentId);
      if (live) return { target: live.target, deploymentId };
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
    },

    /** From START on, the pipeline's instance is the one a visit finds (not a second start). */
    starting(deploymentId: string, instance: Instance): void {
      starting.set(deploymentId, Promise.resolve(instance));
    },

    /** The deployment is READY: its instance is served from now on. */
    serving(deploymentId: string, instance: Instance): void {
      instances.set(deploymentId, instance);
      starting.delete(deploymentId);
    },

    /** The deployment's pipeline ended without READY: nothing of it is served. */
    forget(deploymentId: string): void {
      instances.delete(deploymentId);
      starting.delete(deploymentId);
    },

    /** Records the runtime's crashes, restarts and give-ups of running instances. */
    supervise(): void {
      runtime.onInstanceEvent(
        (event) =>
          void onInstanceEvent(event).catch((error) =>
            logger.error({ err: error, event }, 'could not record an instance event'),
          ),
      );
    },

    /** Production deployments come back without waiting for their first visitor; others start on demand. */
    restartProduction(): void {
      void storage
        .productionDeployments()
        .then((rows) =>
          Promise.all(rows.filter((row) => row.status === 'READY').map((row) => ensureStarted(row))),
        )
        .catch((error) => logger.error({ err: error }, 'could not start production deployments again'));
    },

    /** After a commit that removed them: stop pipelines and instances, delete their builds. */
    async removed(rows: DeploymentRow[]): Promise<void> {
      for (const row of rows) {
        events.pubsub.publish('deployment-canceled', row.id);
        announcements.published(row);
      }
      await Promise.all(
        rows.map(async (row) => {
          await running.get(row.id)?.done;
          instances.delete(row.id);
          await runtime
            .remove(row.id)
            .catch((error) => logger.warn({ err: error }, 'could not remove a build'));
          await logs.release(row.id);
        }),
      );
    },

    /** Shutdown: no instance is started again from now on. */
    close(): void {
      closed = true;
    },
  };
}

export type Instances = ReturnType<typeof createInstances>;
