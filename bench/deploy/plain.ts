/**
 * The baseline: what a deploy script with no platform behind it does for the same app, in the
 * same way Construct's local runtime does it (subgraphs/deployments/runtime/local/), so that
 * the difference is Construct's own overhead and not a different amount of work:
 *
 *   git clone --quiet --depth 1 --branch <branch> --single-branch -- <url> source
 *   npm install --no-audit --no-fund
 *   npm run build
 *   PORT=<free port> npm start   (then GET / until 200)
 *
 * Same environment shapes as the runtime gives (a throwaway HOME, git without user or system
 * config, a shared npm cache, CI=1 for install and build, NODE_ENV=production for the app), the
 * same `/bin/sh -c` for the npm commands, and its own process group for the app.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { findFreePort } from '../../subgraphs/common/net';
import { benchVariable } from '../common/options';
import { pollUntil } from './probe';

export interface PlainPhases {
  clone: number;
  install: number;
  build: number;
  /** From spawning `npm start` to the first 200 on GET /. */
  start: number;
}

export interface PlainRun {
  totalMs: number;
  phases: PlainPhases;
  polls: number;
}

export interface PlainOptions {
  repoUrl: string;
  branch: string;
  /** A folder for this run's source and home (created inside `workRoot`, deleted afterwards). */
  workRoot: string;
  /** Shared by every run, as the runtime shares one between deployments. */
  npmCache: string;
  pollMs: number;
  timeoutMs: number;
  /**
   * Called once the app answered, while it still runs: stopping it kills processes (npm) whose
   * CPU time then never reaches this process's accounts, so CPU is best read before.
   */
  onMeasured?: () => void;
}

const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Process groups started and not yet gone, for `stopPlainApps`. */
const live = new Set<Group>();

/** Stops whatever an interrupted run left behind (its own `finally` does it otherwise). */
export async function stopPlainApps(): Promise<void> {
  await Promise.all([...live].map((group) => group.kill()));
}

export async function plainDeploy(options: PlainOptions): Promise<PlainRun> {
  const dir = await mkdtemp(join(options.workRoot, 'plain-'));
  const source = join(dir, 'source');
  const home = join(dir, 'home');
  const gitHome = join(dir, 'git-home');
  await mkdir(home);
  await mkdir(gitHome);
  const hostPath = benchVariable('PATH') || FALLBACK_PATH;
  const env = {
    PATH: `${join(source, 'node_modules', '.bin')}:${hostPath}`,
    HOME: home,
    npm_config_cache: options.npmCache,
  };
  let app: Group | undefined;
  try {
    const started = performance.now();
    await run(
      'git',
      [
        'clone',
        '--quiet',
        '--depth',
        '1',
        '--branch',
        options.branch,
        '--single-branch',
        '--',
        options.repoUrl,
        source,
      ],
      {
        cwd: gitHome,
        env: {
          PATH: hostPath,
          HOME: gitHome,
          GIT_TERMINAL_PROMPT: '0',
          GIT_CONFIG_NOSYSTEM: '1',
          GIT_CONFIG_GLOBAL: '/dev/null',
          GIT_ALLOW_PROTOCOL: 'https:http:ssh:git:file',
          LC_ALL: 'C',
        },
      },
    );
    const cloned = performance.now();
    await run('/bin/sh', ['-c', 'npm install --no-audit --no-fund'], {
      cwd: source,
      env: { ...env, CI: '1' },
    });
    const installed = performance.now();
    await run('/bin/sh', ['-c', 'npm run build'], { cwd: source, env: { ...env, CI: '1' } });
    const built = performance.now();

    const port = await findFreePort();
    app = spawnGroup('/bin/sh', ['-c', 'npm start'], {
      cwd: source,
      env: { ...env, NODE_ENV: 'production', PORT: String(port) },
    });
    const launched = app;
    const polls = await pollUntil(port, `127.0.0.1:${port}`, (answer) => answer.status === 200, {
      intervalMs: options.pollMs,
      timeoutMs: options.timeoutMs,
      what: 'plain deploy',
      abandoned: () => (launched.exit ? `npm start exited (${launched.exit})\n${launched.tail()}` : null),
    });
    const finished = performance.now();
    options.onMeasured?.();
    return {
      totalMs: finished - started,
      phases: {
        clone: cloned - started,
        install: installed - cloned,
        build: built - installed,
        start: finished - built,
      },
      polls,
    };
  } finally {
    await app?.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

interface Group {
  /** How it exited, once it has ('code 0', 'signal SIGTERM', a spawn error). */
  exit: string | undefined;
  closed: Promise<string>;
  tail(): string;
  kill(): Promise<void>;
}

const TAIL_LINES = 20;

function spawnGroup(
  file: string,
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): Group {
  // Piped, not ignored, as the runtime reads its commands' output (for the logs).
  const child = spawn(file, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n'));
    lines.splice(0, Math.max(0, lines.length - TAIL_LINES));
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const closed = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(error.message));
    child.once('close', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`));
  });
  const group: Group = {
    exit: undefined,
    closed,
    tail: () => lines.join('\n').trim(),
    async kill() {
      if (group.exit !== undefined || child.pid === undefined) return;
      signalGroup(child.pid, 'SIGTERM');
      const pid = child.pid;
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), 5000);
      await closed;
      clearTimeout(timer);
    },
  };
  live.add(group);
  void closed.then((exit) => {
    group.exit = exit;
    live.delete(group);
  });
  return group;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** Runs a command to its end in its own process group; throws with its last lines unless it exits 0. */
async function run(file: string, args: string[], options: { cwd: string; env: Record<string, string> }) {
  const group = spawnGroup(file, args, options);
  const exit = await group.closed;
  if (exit !== 'code 0') throw new Error(`${[file, ...args].join(' ')} failed (${exit}):\n${group.tail()}`);
}
