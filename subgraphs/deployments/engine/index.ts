import type { Encryptor } from '../../common/encryption';
import type { JobQueue } from '../../common/jobs';
import type { Logger } from '../../common/logger';
import type { Outbox } from '../../common/outbox';
import type { EventBus } from '../../common/pubsub';
import type { DeploymentsSettings } from '../config';
import type { Runtime, StepTimeouts } from '../runtime/runtime';
import type { DeploymentsStorage } from '../storage';
import { createAnnouncements } from './announcements';
import { createInstances } from './instances';
import { createLogWriter } from './logs';
import { createPipeline } from './pipeline';
import { createScheduling } from './scheduling';
import { createSnapshots } from './snapshots';
import { createUrls } from './urls';

export interface EngineDependencies {
  storage: DeploymentsStorage;
  jobs: JobQueue;
  /** Where the engine's platform events are emitted, with the transition that causes them. */
  outbox: Outbox;
  runtime: Runtime;
  events: EventBus;
  logger: Logger;
  settings: DeploymentsSettings;
  /** Encrypts each deployment's environment snapshot. */
  encryptor: Encryptor;
  /** Where the upload of a deployment is kept, for the runtime to unpack. */
  uploadPath(uploadId: string): string;
}

/** How long each step may take, as the settings say. */
function stepTimeouts(settings: DeploymentsSettings): StepTimeouts {
  return {
    sourceMs: settings.SOURCE_TIMEOUT_SECONDS * 1000,
    installMs: settings.INSTALL_TIMEOUT_SECONDS * 1000,
    buildMs: settings.BUILD_TIMEOUT_SECONDS * 1000,
    startMs: settings.START_TIMEOUT_SECONDS * 1000,
    healthcheckMs: settings.HEALTHCHECK_TIMEOUT_SECONDS * 1000,
  };
}

/**
 * Runs deployments from QUEUED to READY (or ERROR) and keeps them running: the durable
 * pipeline on the job queue, per-organization build slots, recovery of builds a dead process
 * left behind, crash handling, and what the edge routes where. The services change rows and
 * call it; it never decides who may do what.
 */
export function createDeploymentEngine(deps: EngineDependencies) {
  const { storage, jobs, outbox, runtime, events, logger, settings, encryptor } = deps;
  const timeouts = stepTimeouts(settings);
  const urls = createUrls(settings);
  const snapshots = createSnapshots({ encryptor, urls });
  const logs = createLogWriter({ storage, events, logger, snapshots });
  const announcements = createAnnouncements({ storage, outbox, events });
  const scheduling = createScheduling({
    storage,
    jobs,
    outbox,
    logs,
    announcements,
    logger,
    settings,
    timeouts,
  });
  const instances = createInstances({
    storage,
    runtime,
    logs,
    snapshots,
    announcements,
    events,
    running: scheduling.running,
    logger,
    timeouts,
  });
  const pipeline = createPipeline({
    storage,
    runtime,
    outbox,
    events,
    logs,
    snapshots,
    urls,
    announcements,
    scheduling,
    instances,
    logger,
    timeouts,
    uploadPath: deps.uploadPath,
  });

  return {
    urls,
    snapshots,
    announcements,
    scheduling,
    pipeline,
    instances,

    /** Starts the workers, recovers what a previous run left, and starts production deployments again. */
    async start(): Promise<void> {
      await scheduling.createQueue();
      instances.supervise();
      pipeline.listenForCancels();
      await scheduling.recover();
      await scheduling.work(pipeline.run);
      await scheduling.dispatch();
      scheduling.startSweeper();
      instances.restartProduction();
    },

    async close(): Promise<void> {
      instances.close();
      scheduling.stopSweeper();
      await pipeline.shutdown();
      // Apps first: they are this process's children, and must not outlive it whatever follows.
      await runtime.close();
      await logs.close();
      await jobs.close();
    },
  };
}

export type DeploymentEngine = ReturnType<typeof createDeploymentEngine>;
