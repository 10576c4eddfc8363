import type { DeploymentRow } from '../../../db/deployments/schema';
import type { Logger } from '../../common/logger';
import type { EventBus, LogLineMessage } from '../../common/pubsub';
import type { LogSink, LogType } from '../runtime/runtime';
import type { DeploymentsStorage } from '../storage';
import type { Snapshots } from './snapshots';

/** Lines kept per deployment; past it, one notice and then nothing (a runaway app cannot fill the disk). */
export const MAX_LINES_PER_DEPLOYMENT = 50_000;
const FLUSH_MS = 25;
const FLUSH_LINES = 500;
/** Shorter values would mask ordinary words ("true", "prod") all over the logs. */
const MIN_MASKED_LENGTH = 6;
export const MASK = '[masked]';

export interface DeploymentLog {
  sink: LogSink;
  /** Writes what is buffered; resolves once it is stored and published. */
  flush(): Promise<void>;
}

/** Replaces every occurrence of a secret value, longest first (a value may contain another). */
export function masker(secrets: string[]): (line: string) => string {
  // Logs come a line at a time: a multi-line secret (a PEM key) is masked line by line.
  const pieces = secrets.flatMap((value) => [value, ...value.split(/\r?\n/)]);
  const values = [...new Set(pieces.filter((value) => value.length >= MIN_MASKED_LENGTH))].sort(
    (a, b) => b.length - a.length,
  );
  if (values.length === 0) return (line) => line;
  return (line) => values.reduce((masked, value) => masked.replaceAll(value, MASK), line);
}

export interface LogWriterDependencies {
  storage: DeploymentsStorage;
  /** Where each stored batch is published (`deployment-logs`), for those who follow the logs. */
  events: EventBus;
  logger: Logger;
  /** The values masked in every line: those of the deployment's environment snapshot. */
  snapshots: Pick<Snapshots, 'secretsOf'>;
}

/**
 * Stores a deployment's log lines in order, in batches, then publishes each batch: a
 * subscriber that reads the stored lines and then follows the published ones misses none
 * (it drops what it already read by `seq`). One writer per deployment per process.
 */
export function createLogWriter({ storage, events, logger, snapshots }: LogWriterDependencies) {
  // Kept while a pipeline or an instance of the deployment may write: two writers of one
  // deployment would hand out the same `seq`.
  const open = new Map<string, Promise<DeploymentLog>>();

  /** The deployment's writer, masking the values of its environment snapshot. */
  function openLog(deployment: DeploymentRow): Promise<DeploymentLog> {
    const existing = open.get(deployment.id);
    if (existing) return existing;
    const log = createLog(deployment.id, snapshots.secretsOf(deployment));
    open.set(deployment.id, log);
    log.catch(() => open.delete(deployment.id));
    return log;
  }

  async function createLog(deploymentId: string, secrets: string[]): Promise<DeploymentLog> {
    const mask = masker(secrets);
    let seq = await storage.lastLogSeq(deploymentId);
    let buffer: LogLineMessage[] = [];
    let timer: NodeJS.Timeout | undefined;
    let writing = Promise.resolve();
    let limitReached = seq >= MAX_LINES_PER_DEPLOYMENT;

    const flush = (): Promise<void> => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const batch = buffer;
      buffer = [];
      if (batch.length > 0) {
        writing = writing
          .then(async () => {
            await storage.insertLogs(
              batch.map((line) => ({ ...line, deploymentId, createdAt: new Date(line.createdAt) })),
            );
            events.pubsub.publish('deployment-logs', deploymentId, batch);
          })
          .catch((error) => logger.error({ err: error, deploymentId }, 'could not store deployment logs'));
      }
      return writing;
    };

    const push: LogSink = (type, stream, line) => {
      if (limitReached) return;
      if (seq + 1 >= MAX_LINES_PER_DEPLOYMENT) {
        limitReached = true;
        type = 'BUILD';
        stream = 'SYSTEM';
        line = `Log limit of ${MAX_LINES_PER_DEPLOYMENT} lines reached: later lines are not kept.`;
      }
      buffer.push({ seq: ++seq, type, stream, line: mask(line), createdAt: new Date().toISOString() });
      if (buffer.length >= FLUSH_LINES) void flush();
      else timer ??= setTimeout(() => void flush(), FLUSH_MS);
    };

    return { sink: push, flush };
  }

  return {
    open: openLog,
    /** One line of Construct's own (a restart, an error), written at once. */
    async system(deployment: DeploymentRow, line: string, type: LogType = 'BUILD'): Promise<void> {
      const log = await openLog(deployment);
      log.sink(type, 'SYSTEM', line);
      await log.flush();
    },
    /** Flushes and forgets the deployment's writer: nothing of it runs any more. */
    async release(deploymentId: string): Promise<void> {
      const log = open.get(deploymentId);
      open.delete(deploymentId);
      await (await log?.catch(() => undefined))?.flush();
    },
    async close(): Promise<void> {
      await Promise.all([...open.values()].map((log) => log.then((l) => l.flush()).catch(() => {})));
      open.clear();
    },
  };
}

export type LogWriter = ReturnType<typeof createLogWriter>;
