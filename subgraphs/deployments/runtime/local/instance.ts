import type { Logger } from '../../../common/logger';
import { findFreePort, isPortFree } from '../../../common/net';
import { type InstanceEvent, type LogSink, type PipelineHooks, StepFailure } from '../runtime';
import { appEnvironment, type EnvironmentPaths } from './environment';
import { waitForHealthy, waitForPort } from './healthcheck';
import {
  describeExit,
  type ExitStatus,
  formatDuration,
  type ProcessGroup,
  type SpawnGroupOptions,
  spawnGroup,
} from './processes';

export interface RestartPolicy {
  /** Restarts in a row that did not last before giving up. */
  maxRetries: number;
  /** Wait before the first restart; doubled for each further one. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** An instance up this long is stable again: the next crash starts the count anew. */
  stableAfterMs: number;
}

export interface InstanceSettings {
  deploymentId: string;
  /** What runs, for the logs: '"npm start"', 'the static site in dist/'. */
  description: string;
  /** The program and arguments that run the app. */
  command: readonly [string, readonly string[]];
  cwd: string;
  paths: EnvironmentPaths;
  env: Record<string, string>;
  port: number;
  healthcheckPath: string;
  timeouts: { startMs: number; healthcheckMs: number };
  policy: RestartPolicy;
  killGraceMs: number;
  ledger: SpawnGroupOptions['ledger'];
  log: LogSink;
  logger: Logger;
  emit(event: InstanceEvent): void;
}

type Launch =
  | { ok: true }
  | { ok: false; failure: StepFailure; status: Pick<ExitStatus, 'code' | 'signal'> | null };

/**
 * One running app: started and health-checked once by the pipeline, then restarted on crash
 * with backoff until it stays up or runs out of retries.
 */
export class Instance {
  #port: number;
  #process: ProcessGroup | null = null;
  #stopping = false;
  /** Restarts in a row since the app was last stable. */
  #attempts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;
  #restarting: Promise<void> | null = null;
  readonly #stopped = new AbortController();

  constructor(private readonly settings: InstanceSettings) {
    this.#port = settings.port;
  }

  get target(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** START and HEALTHCHECK, as steps of the pipeline; on failure nothing is left running. */
  async start(hooks: Pick<PipelineHooks, 'signal' | 'step'>): Promise<void> {
    const signal = AbortSignal.any([hooks.signal, this.#stopped.signal]);
    try {
      await hooks.step('START', async () => {
        this.#spawn();
        const outcome = await this.#waitListening(signal);
        if (!outcome.ok) throw outcome.failure;
      });
      await hooks.step('HEALTHCHECK', async () => {
        const outcome = await this.#waitHealthy(signal);
        if (!outcome.ok) throw outcome.failure;
      });
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.#running();
  }

  /** Stops the app for good; it is not a crash, so no event. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stopped.abort();
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#stableTimer);
    await this.#restarting;
    await this.#process?.kill(this.settings.killGraceMs);
  }

  #spawn(): ProcessGroup {
    const { command, cwd, paths, env, log, description, ledger } = this.settings;
    log('RUNTIME', 'SYSTEM', `Starting ${description} on port ${this.#port}`);
    const group = spawnGroup(command[0], command[1], {
      cwd,
      env: appEnvironment(paths, env, this.#port),
      ledger,
      onLine: (stream, line) => log('RUNTIME', stream, line),
    });
    this.#process = group;
    return group;
  }

  async #waitListening(signal: AbortSignal): Promise<Launch> {
    const group = this.#process!;
    const { startMs } = this.settings.timeouts;
    const outcome = await waitForPort(this.#port, { timeoutMs: startMs, signal, exited: group.exited });
    if (outcome.kind === 'listening') return { ok: true };
    if (outcome.kind === 'exited') {
      if (outcome.status.error) throw outcome.status.error;
      return {
        ok: false,
        status: outcome.status,
        failure: new StepFailure(
          'START',
          `The app exited with ${describeExit(outcome.status)} before it answered on port ${this.#port}. See the runtime logs.`,
        ),
      };
    }
    return {
      ok: false,
      status: null,
      failure: new StepFailure(
        'START',
        `The app did not listen on port ${this.#port} within ${formatDuration(startMs)}. Make sure it listens on the port in the PORT environment variable.`,
      ),
    };
  }

  async #waitHealthy(signal: AbortSignal): Promise<Launch> {
    const group = this.#process!;
    const { healthcheckPath, timeouts } = this.settings;
    const started = Date.now();
    const outcome = await waitForHealthy(this.#port, healthcheckPath, {
      timeoutMs: timeouts.healthcheckMs,
      signal,
      exited: group.exited,
    });
    if (outcome.kind === 'healthy') {
      this.settings.log(
        'RUNTIME',
        'SYSTEM',
        `The app answered GET ${healthcheckPath} with ${outcome.status} after ${formatDuration(Date.now() - started)}`,
      );
      return { ok: true };
    }
    if (outcome.kind === 'exited') {
      return {
        ok: false,
        status: outcome.status,
        failure: new StepFailure(
          'HEALTHCHECK',
          `The app exited with ${describeExit(outcome.status)} before it answered GET ${healthcheckPath} with a success status. See the runtime logs.`,
        ),
      };
    }
    return {
      ok: false,
      status: null,
      failure: new StepFailure(
        'HEALTHCHECK',
        `The app did not answer GET ${healthcheckPath} with a success status within ${formatDuration(timeouts.healthcheckMs)} (last answer: ${outcome.lastAnswer}).`,
      ),
    };
  }

  /** From now on an exit is a crash. */
  #running(): void {
    const group = this.#process!;
    void group.exited.then((status) => {
      if (this.#stopping || this.#process !== group) return;
      clearTimeout(this.#stableTimer);
      this.#crashed(status);
    });
    this.#stableTimer = setTimeout(() => {
      this.#attempts = 0;
    }, this.settings.policy.stableAfterMs);
    this.#stableTimer.unref();
  }

  #crashed(status: Pick<ExitStatus, 'code' | 'signal'> | null): void {
    const { deploymentId, policy, log, logger, emit } = this.settings;
    if (this.#attempts >= policy.maxRetries) {
      const times = this.#attempts === 0 ? 'once' : `${this.#attempts + 1} times in a row`;
      log(
        'RUNTIME',
        'SYSTEM',
        `The app stopped ${times}; it will not be restarted again. Redeploy to start it.`,
      );
      logger.warn({ deploymentId, restarts: this.#attempts }, 'gave up restarting a deployment');
      emit({ kind: 'gave-up', deploymentId, restarts: this.#attempts });
      return;
    }
    const restartInMs = Math.min(policy.baseDelayMs * 2 ** this.#attempts, policy.maxDelayMs);
    log(
      'RUNTIME',
      'SYSTEM',
      `${status ? `The app exited with ${describeExit(status)}` : 'The app stopped answering'}; restarting it in ${formatDuration(restartInMs)}.`,
    );
    logger.warn({ deploymentId, exitCode: status?.code, signal: status?.signal }, 'deployment crashed');
    // Armed before the event goes out, so a listener that stops the instance also cancels it.
    this.#restartTimer = setTimeout(() => {
      this.#restarting = this.#restart().finally(() => {
        this.#restarting = null;
      });
    }, restartInMs);
    emit({
      kind: 'crashed',
      deploymentId,
      exitCode: status?.code ?? null,
      signal: status?.signal ?? null,
      restartInMs,
    });
  }

  async #restart(): Promise<void> {
    const { deploymentId, log, logger, emit } = this.settings;
    this.#attempts += 1;
    try {
      if (this.#stopping) return;
      // Another process may have taken the port while the app was down.
      const oldTarget = this.target;
      if (!(await isPortFree(this.#port))) this.#port = await findFreePort();
      if (this.#stopping) return;

      this.#spawn();
      let outcome = await this.#waitListening(this.#stopped.signal);
      if (outcome.ok) outcome = await this.#waitHealthy(this.#stopped.signal);
      if (this.#stopping) return;
      if (!outcome.ok) {
        log('RUNTIME', 'SYSTEM', outcome.failure.message);
        await this.#process?.kill(this.settings.killGraceMs);
        if (!this.#stopping) this.#crashed(outcome.status);
        return;
      }
      if (this.target !== oldTarget) log('RUNTIME', 'SYSTEM', `The app now runs on port ${this.#port}.`);
      log('RUNTIME', 'SYSTEM', 'The app is running again.');
      this.#running();
      emit({ kind: 'restarted', deploymentId, instance: { deploymentId, target: this.target } });
    } catch (error) {
      if (this.#stopping) return;
      logger.error({ err: error, deploymentId }, 'restarting a deployment failed');
      await this.#process?.kill(this.settings.killGraceMs);
      this.#crashed(null);
    }
  }
}
