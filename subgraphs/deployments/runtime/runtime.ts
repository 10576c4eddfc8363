/**
 * What builds and runs deployments. The pipeline (engine/pipeline.ts) owns the state machine
 * and the database; a runtime owns processes, files and ports. `local` (child processes on
 * this machine) is the embedded default; a Kubernetes runtime implements the same contract
 * (build → a Job, start → a Deployment + Service, route → an Ingress).
 */

/** The pipeline's steps, in order, as recorded in `Deployment.events`. */
export const steps = ['SOURCE', 'INSTALL', 'BUILD', 'START', 'HEALTHCHECK', 'ROUTE'] as const;
export type Step = (typeof steps)[number];

export type LogType = 'BUILD' | 'RUNTIME';
export type LogStream = 'STDOUT' | 'STDERR' | 'SYSTEM';

/** Where a runtime writes what the user's commands print, one line at a time (no trailing newline). */
export type LogSink = (type: LogType, stream: LogStream, line: string) => void;

/**
 * A failure the user can act on: the step that failed and a message for `Deployment.errorMessage`
 * ("Cloning https://… failed: repository not found"). Anything else thrown is an internal error.
 */
export class StepFailure extends Error {
  constructor(
    readonly step: Step,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

/** The abort reason when a deployment is canceled (as opposed to timing out). */
export class Canceled extends Error {
  constructor() {
    super('The deployment was canceled.');
    this.name = 'Canceled';
  }
}

export type Source =
  /** A repository `git clone` accepts, at a branch, tag or full commit SHA. */
  | { kind: 'git'; url: string; ref: string }
  /** A gzipped tarball uploaded for this deployment (a CLI deploying a local folder). */
  | { kind: 'upload'; archivePath: string };

export type Framework = 'NODE' | 'STATIC';

/** Commands the project overrides; null keeps what detection chose. */
export interface CommandOverrides {
  install: string | null;
  build: string | null;
  start: string | null;
}

export interface StepTimeouts {
  sourceMs: number;
  installMs: number;
  buildMs: number;
  startMs: number;
  healthcheckMs: number;
}

/** Reports the pipeline gives a runtime while it works. */
export interface PipelineHooks {
  /** Aborted with `Canceled` when the user cancels, or on shutdown. Kill what runs, then throw. */
  signal: AbortSignal;
  log: LogSink;
  /**
   * Wraps each step so the pipeline can record it (start, duration, outcome). A runtime calls
   * it for every step it performs, in order; a step it skips (no build command) it still
   * reports, with `skipped`.
   */
  step<T>(step: Step, run: () => Promise<T>, options?: { skipped?: boolean }): Promise<T>;
  /** Called once the source is fetched, with the commit it resolved to (null for an upload). */
  sourceFetched?(commitSha: string | null): void;
}

export interface BuildSpec {
  deploymentId: string;
  source: Source;
  /** Relative path inside the source where the app lives ('' for the root); already validated. */
  rootDirectory: string;
  commands: CommandOverrides;
  /** The variables of the deployment's environment plus Construct's own (`CONSTRUCT_*`). */
  env: Record<string, string>;
  timeouts: StepTimeouts;
}

/** What a build leaves behind for `start`, stored with the deployment. */
export interface BuildOutput {
  /** The commit the source resolved to (git), or null (upload). */
  commitSha: string | null;
  framework: Framework;
  /** The command that starts the app, or null for a static site served by the runtime. */
  startCommand: string | null;
  /** For static sites: the directory served, relative to the app's root. */
  staticDirectory: string | null;
}

export interface StartSpec {
  deploymentId: string;
  build: BuildOutput;
  env: Record<string, string>;
  healthcheckPath: string;
  timeouts: Pick<StepTimeouts, 'startMs' | 'healthcheckMs'>;
}

/** Where a running deployment answers. */
export interface Instance {
  deploymentId: string;
  /** Base URL of the app on the runtime's network, e.g. http://127.0.0.1:53817. */
  target: string;
}

/** What a runtime says about an instance after it became healthy. */
export type InstanceEvent =
  | {
      kind: 'crashed';
      deploymentId: string;
      exitCode: number | null;
      signal: string | null;
      restartInMs: number;
    }
  | { kind: 'restarted'; deploymentId: string; instance: Instance }
  | { kind: 'gave-up'; deploymentId: string; restarts: number };

export interface Runtime {
  readonly name: string;
  /** SOURCE, INSTALL, BUILD. Throws StepFailure (user's fault), Canceled, or anything else (ours). */
  build(spec: BuildSpec, hooks: PipelineHooks): Promise<BuildOutput>;
  /** START, HEALTHCHECK. The instance keeps running (and is restarted on crash) until `stop`. */
  start(spec: StartSpec, hooks: PipelineHooks): Promise<Instance>;
  /** Stops the deployment's instance, if any. */
  stop(deploymentId: string): Promise<void>;
  /** Stops it and deletes what its build left. */
  remove(deploymentId: string): Promise<void>;
  /** Whether a build output of the deployment is still there to start again. */
  hasBuild(deploymentId: string): Promise<boolean>;
  /** Crashes, restarts and give-ups of running instances; runtime logs go through `logs`. */
  onInstanceEvent(listener: (event: InstanceEvent) => void): void;
  /** Stops every instance (shutdown). */
  close(): Promise<void>;
}
