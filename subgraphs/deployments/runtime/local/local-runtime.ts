import { mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../../common/logger';
import { findFreePort } from '../../../common/net';
import {
  type BuildOutput,
  type BuildSpec,
  Canceled,
  type InstanceEvent,
  type PipelineHooks,
  type Runtime,
  type Instance as RuntimeInstance,
  type StartSpec,
  StepFailure,
} from '../runtime';
import { normalizeRootDirectory } from '../source-validation';
import {
  type AppPlan,
  CANNOT_TELL,
  type Detector,
  defaultDetectors,
  detectApp,
  type RunPlan,
} from './detect';
import { buildEnvironment, type EnvironmentPaths } from './environment';
import { Instance, type RestartPolicy } from './instance';
import { ProcessLedger } from './ledger';
import { DEFAULT_KILL_GRACE_MS, formatDuration, runProcess, shellCommand } from './processes';
import {
  type ArchiveLimits,
  cloneRepository,
  DEFAULT_ARCHIVE_LIMITS,
  extractArchive,
  relativePosix,
  resolveAppDirectory,
} from './source';

export type { Detector, RestartPolicy };

export interface LocalRuntimeOptions {
  /** Where builds live: `<rootDir>/deployments/<id>/`, and npm's shared cache. */
  rootDir: string;
  logger: Logger;
  /** Whether file:// URLs and paths on this machine may be cloned (development, tests). */
  allowLocalSources: boolean;
  restart?: Partial<RestartPolicy>;
  /** Between SIGTERM and SIGKILL when stopping a process group. */
  killGraceMs?: number;
  /** Tried in order to tell how an app is installed, built and run. */
  detectors?: readonly Detector[];
  archiveLimits?: ArchiveLimits;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  maxRetries: 5,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  stableAfterMs: 60_000,
};

/** Written last by a build, so its presence means the build is complete. */
export const BUILD_MANIFEST = 'construct-build.json';

const STATIC_SERVER = fileURLToPath(new URL('./static-server.mjs', import.meta.url));
// Deployment ids become folder names.
const DEPLOYMENT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const MAX_COMMAND_IN_MESSAGE = 200;

interface BuildManifest {
  version: 1;
  deploymentId: string;
  /** The app's folder, relative to the deployment's folder ('source/apps/web'). */
  appDirectory: string;
  output: BuildOutput;
  builtAt: string;
}

interface DeploymentPaths extends Omit<EnvironmentPaths, 'app'> {
  root: string;
  source: string;
  manifest: string;
}

/**
 * Builds and runs deployments as child processes of this machine: each deployment gets a folder
 * with its source and a home of its own; commands and apps see only the environment they are
 * given. It isolates environments, not tenants: the apps run as the same user as Construct.
 */
export class LocalRuntime implements Runtime {
  readonly name = 'local';
  readonly #rootDir: string;
  readonly #logger: Logger;
  readonly #policy: RestartPolicy;
  readonly #killGraceMs: number;
  readonly #detectors: readonly Detector[];
  readonly #archiveLimits: ArchiveLimits;
  readonly #allowLocalSources: boolean;
  readonly #instances = new Map<string, Instance>();
  readonly #listeners: ((event: InstanceEvent) => void)[] = [];
  readonly #closing = new AbortController();
  /** Builds under way, so `close` can wait until their processes are gone. */
  readonly #builds = new Set<Promise<unknown>>();
  readonly #ledger: ProcessLedger;
  /** Settles once what a dead predecessor left running is gone. */
  readonly #ready: Promise<void>;

  constructor(options: LocalRuntimeOptions) {
    this.#rootDir = resolve(options.rootDir);
    this.#logger = options.logger;
    this.#allowLocalSources = options.allowLocalSources;
    this.#policy = { ...DEFAULT_RESTART_POLICY, ...options.restart };
    this.#killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.#detectors = options.detectors ?? defaultDetectors;
    this.#archiveLimits = options.archiveLimits ?? DEFAULT_ARCHIVE_LIMITS;
    this.#ledger = new ProcessLedger(join(this.#rootDir, 'processes'));
    this.#ready = this.#ledger.reap(this.#killGraceMs).then(
      (killed) => {
        if (killed > 0) this.#logger.warn({ killed }, 'killed processes left running by a previous run');
      },
      (error) => this.#logger.error({ err: error }, 'could not clean up after a previous run'),
    );
  }

  build(spec: BuildSpec, hooks: PipelineHooks): Promise<BuildOutput> {
    const building = this.#build(spec, this.#guarded(hooks));
    const settled = building.catch(() => {});
    this.#builds.add(settled);
    void settled.finally(() => this.#builds.delete(settled));
    return building;
  }

  async #build(spec: BuildSpec, hooks: PipelineHooks): Promise<BuildOutput> {
    const paths = this.#paths(spec.deploymentId);
    const signal = AbortSignal.any([hooks.signal, this.#closing.signal]);
    signal.throwIfAborted();
    const log = (line: string) => hooks.log('BUILD', 'SYSTEM', line);
    await this.#ready;

    // A build starts from nothing: what a build interrupted by a crash of ours left is not trusted.
    await this.stop(spec.deploymentId);
    await rm(paths.manifest, { force: true });
    await rm(paths.source, { recursive: true, force: true });
    await mkdir(paths.home, { recursive: true });
    await mkdir(paths.npmCache, { recursive: true });
    // Inside the deployment's folder, so what a killed build leaves goes with the next build or remove.
    const gitHome = join(paths.root, 'git-home');
    await rm(gitHome, { recursive: true, force: true });
    await mkdir(gitHome);

    try {
      const { commitSha, appDir } = await hooks.step('SOURCE', async () => {
        let commitSha: string | null = null;
        if (spec.source.kind === 'git') {
          commitSha = await cloneRepository(spec.source.url, spec.source.ref, {
            sourceDir: paths.source,
            gitHome,
            allowLocal: this.#allowLocalSources,
            signal,
            timeoutMs: spec.timeouts.sourceMs,
            killGraceMs: this.#killGraceMs,
            ledger: this.#ledger,
            log,
          });
        } else {
          await extractArchive(
            spec.source.archivePath,
            { sourceDir: paths.source, signal, log },
            this.#archiveLimits,
          );
        }
        return { commitSha, appDir: await resolveAppDirectory(paths.source, spec.rootDirectory) };
      });
      hooks.sourceFetched?.(commitSha);

      let plan: AppPlan;
      try {
        plan = await detectApp(appDir, spec.commands, this.#detectors);
      } catch (error) {
        if (!(error instanceof StepFailure)) throw error;
        if (error.step === 'BUILD') await hooks.step('INSTALL', async () => undefined, { skipped: true });
        return await failStep(hooks, error);
      }
      log(`Detected ${plan.description}.`);
      const env = buildEnvironment({ ...paths, app: appDir }, spec.env);
      const run = (step: 'INSTALL' | 'BUILD', command: string, timeoutMs: number) =>
        this.#runCommand(step, command, { cwd: appDir, env, timeoutMs, signal, hooks });

      const install = plan.install;
      if (install) {
        await hooks.step('INSTALL', () => run('INSTALL', install, spec.timeouts.installMs));
      } else {
        await hooks.step('INSTALL', async () => log('No install command: skipping install.'), {
          skipped: true,
        });
      }

      // After the build, since what it wrote (dist/index.html) may be what decides.
      const decideRun = async (): Promise<RunPlan> => {
        const found = await plan.resolveRun();
        if (!found) throw new StepFailure('BUILD', CANNOT_TELL);
        if (found.staticDirectory) await assertInside(paths.source, appDir, found.staticDirectory);
        return found;
      };
      const build = plan.build;
      let runPlan: RunPlan;
      if (build) {
        runPlan = await hooks.step('BUILD', async () => {
          await run('BUILD', build, spec.timeouts.buildMs);
          return decideRun();
        });
      } else {
        try {
          runPlan = await decideRun();
        } catch (error) {
          if (error instanceof StepFailure) await failStep(hooks, error);
          throw error;
        }
        await hooks.step('BUILD', async () => log('No build command: skipping the build.'), {
          skipped: true,
        });
      }

      const output: BuildOutput = { commitSha, ...runPlan };
      log(
        output.startCommand
          ? `The app will start with "${output.startCommand}".`
          : `The site will be served from ${output.staticDirectory === '.' ? 'the app’s root' : `${output.staticDirectory}/`}.`,
      );
      await this.#writeManifest(paths, {
        version: 1,
        deploymentId: spec.deploymentId,
        // appDir is a real path: so must its base be, wherever rootDir's own links lead.
        appDirectory: relativePosix(await realpath(paths.root), appDir),
        output,
        builtAt: new Date().toISOString(),
      });
      return output;
    } catch (error) {
      await rm(paths.source, { recursive: true, force: true }).catch(() => {});
      throw error;
    } finally {
      await rm(gitHome, { recursive: true, force: true }).catch(() => {});
    }
  }

  async start(spec: StartSpec, pipelineHooks: PipelineHooks): Promise<RuntimeInstance> {
    const hooks = this.#guarded(pipelineHooks);
    const { deploymentId } = spec;
    const paths = this.#paths(deploymentId);
    const signal = AbortSignal.any([hooks.signal, this.#closing.signal]);
    signal.throwIfAborted();
    await this.#ready;
    await this.stop(deploymentId);

    const manifest = await this.#readManifest(paths);
    if (!manifest) {
      await failStep(
        hooks,
        new StepFailure(
          'START',
          'The build of this deployment is no longer on this server; deploy it again.',
        ),
      );
    }
    const appDir = resolve(paths.root, manifest!.appDirectory);
    if (!appDir.startsWith(paths.root + sep))
      throw new Error(`${BUILD_MANIFEST} of ${deploymentId} points outside it`);
    const command = this.#startCommand(spec.build, appDir);
    if (!command) {
      await failStep(
        hooks,
        new StepFailure('START', 'The build has no command to start the app; deploy it again.'),
      );
    }

    const instance = new Instance({
      deploymentId,
      description: spec.build.startCommand
        ? `"${spec.build.startCommand}"`
        : `the static site in ${spec.build.staticDirectory === '.' ? 'the app’s root' : `${spec.build.staticDirectory}/`}`,
      command: command!,
      cwd: appDir,
      paths: { ...paths, app: appDir },
      env: spec.env,
      port: await findFreePort(),
      healthcheckPath: spec.healthcheckPath.startsWith('/')
        ? spec.healthcheckPath
        : `/${spec.healthcheckPath}`,
      timeouts: spec.timeouts,
      policy: this.#policy,
      killGraceMs: this.#killGraceMs,
      ledger: this.#ledger,
      log: hooks.log,
      logger: this.#logger,
      emit: (event) => this.#emit(event),
    });
    // A start that raced this one for the same deployment loses: one instance per deployment.
    const previous = this.#instances.get(deploymentId);
    this.#instances.set(deploymentId, instance);
    if (previous) await previous.stop();
    try {
      await instance.start({ signal, step: hooks.step });
    } catch (error) {
      // Stopped by `stop`, `remove` or `close` while starting: that is a cancel, not a failure.
      const stoppedElsewhere = this.#instances.get(deploymentId) !== instance;
      if (!stoppedElsewhere) this.#instances.delete(deploymentId);
      if (signal.aborted) throw signal.reason;
      if (stoppedElsewhere) throw new Canceled();
      throw error;
    }
    return { deploymentId, target: instance.target };
  }

  async stop(deploymentId: string): Promise<void> {
    this.#paths(deploymentId);
    const instance = this.#instances.get(deploymentId);
    if (!instance) return;
    this.#instances.delete(deploymentId);
    await instance.stop();
  }

  async remove(deploymentId: string): Promise<void> {
    const paths = this.#paths(deploymentId);
    await this.#ready;
    await this.stop(deploymentId);
    await rm(paths.root, { recursive: true, force: true });
  }

  async hasBuild(deploymentId: string): Promise<boolean> {
    const paths = this.#paths(deploymentId);
    if (!(await this.#readManifest(paths))) return false;
    try {
      return (await stat(paths.source)).isDirectory();
    } catch {
      return false;
    }
  }

  onInstanceEvent(listener: (event: InstanceEvent) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#closing.abort(new Canceled());
    await this.#ready;
    const instances = [...this.#instances.values()];
    this.#instances.clear();
    await Promise.allSettled([...instances.map((instance) => instance.stop()), ...this.#builds]);
  }

  /**
   * The hooks, with a log sink that cannot throw: it is called from the output streams of child
   * processes, where an exception would have nowhere to go but the whole process.
   */
  #guarded(hooks: PipelineHooks): PipelineHooks {
    let warned = false;
    return {
      signal: hooks.signal,
      step: (step, run, options) => hooks.step(step, run, options),
      sourceFetched: (commitSha) => hooks.sourceFetched?.(commitSha),
      log: (type, stream, line) => {
        try {
          hooks.log(type, stream, line);
        } catch (error) {
          if (!warned) this.#logger.error({ err: error }, 'a deployment log sink failed');
          warned = true;
        }
      },
    };
  }

  #paths(deploymentId: string): DeploymentPaths {
    if (!DEPLOYMENT_ID.test(deploymentId))
      throw new Error(`Invalid deployment id: ${JSON.stringify(deploymentId)}`);
    const root = join(this.#rootDir, 'deployments', deploymentId);
    return {
      root,
      source: join(root, 'source'),
      home: join(root, 'home'),
      manifest: join(root, BUILD_MANIFEST),
      npmCache: join(this.#rootDir, 'npm-cache'),
    };
  }

  #startCommand(build: BuildOutput, appDir: string): [string, string[]] | null {
    if (build.startCommand) return shellCommand(build.startCommand);
    if (build.framework !== 'STATIC') return null;
    const directory = normalizeRootDirectory(build.staticDirectory ?? '');
    if (!directory.ok) return null;
    return [process.execPath, [STATIC_SERVER, join(appDir, directory.path)]];
  }

  async #runCommand(
    step: 'INSTALL' | 'BUILD',
    command: string,
    options: {
      cwd: string;
      env: Record<string, string>;
      timeoutMs: number;
      signal: AbortSignal;
      hooks: PipelineHooks;
    },
  ): Promise<void> {
    const { hooks, timeoutMs } = options;
    const noun = step === 'INSTALL' ? 'install' : 'build';
    hooks.log('BUILD', 'SYSTEM', `Running "${command}"`);
    const started = Date.now();
    const [file, args] = shellCommand(command);
    const result = await runProcess(file, args, {
      cwd: options.cwd,
      env: options.env,
      signal: options.signal,
      timeoutMs,
      killGraceMs: this.#killGraceMs,
      ledger: this.#ledger,
      onLine: (stream, line) => hooks.log('BUILD', stream, line),
    });
    if (result.kind === 'timed-out') {
      throw new StepFailure(step, `The ${noun} command did not finish within ${formatDuration(timeoutMs)}.`);
    }
    if (result.code !== 0) {
      const shown =
        command.length > MAX_COMMAND_IN_MESSAGE ? `${command.slice(0, MAX_COMMAND_IN_MESSAGE)}…` : command;
      const how = result.signal ? `was killed by signal ${result.signal}` : `exited with code ${result.code}`;
      throw new StepFailure(step, `The ${noun} command "${shown}" ${how}. See the build logs.`);
    }
    hooks.log(
      'BUILD',
      'SYSTEM',
      `${step === 'INSTALL' ? 'Install' : 'Build'} finished in ${formatDuration(Date.now() - started)}`,
    );
  }

  async #readManifest(paths: DeploymentPaths): Promise<BuildManifest | null> {
    try {
      const manifest = JSON.parse(await readFile(paths.manifest, 'utf8')) as BuildManifest;
      return manifest.version === 1 ? manifest : null;
    } catch {
      return null;
    }
  }

  async #writeManifest(paths: DeploymentPaths, manifest: BuildManifest): Promise<void> {
    // Written aside then renamed: a crash mid-write must not leave a manifest that looks complete.
    const partial = `${paths.manifest}.partial`;
    await writeFile(partial, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(partial, paths.manifest);
  }

  #emit(event: InstanceEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.error({ err: error, event }, 'an instance event listener failed');
      }
    }
  }
}

export function createLocalRuntime(options: LocalRuntimeOptions): LocalRuntime {
  return new LocalRuntime(options);
}

/** A static site's folder must not lead out of the source through a link (`dist -> /`). */
async function assertInside(sourceDir: string, appDir: string, directory: string): Promise<void> {
  const source = await realpath(sourceDir);
  const real = await realpath(join(appDir, directory));
  if (real !== source && !real.startsWith(source + sep)) {
    throw new StepFailure(
      'BUILD',
      `The folder '${directory}' leads outside the source through a symbolic link.`,
    );
  }
}

/**
 * Reports a failure found between steps as the failure of its step, so the pipeline's record
 * shows which step failed.
 */
async function failStep(hooks: PipelineHooks, failure: StepFailure): Promise<never> {
  await hooks.step(failure.step, async () => {
    throw failure;
  });
  throw failure;
}
