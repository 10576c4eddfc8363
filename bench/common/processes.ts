/**
 * What every benchmark driver needs around the processes it measures: CPU pinning (the gateway
 * under test alone on the last CPU, everything else on the others), child processes in their own
 * process groups with their last output kept for a failure message, readiness waits, and a
 * check that a port is free before a run.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inheritedEnvironment } from './options';

const REPO_ROOT = resolve(import.meta.dirname, '../..');

export interface Pinning {
  gatewayCpus: string;
  restCpus: string;
}

export function planPinning(enabled: boolean): Pinning | null {
  if (!enabled) return null;
  const cpuCount = availableParallelism();
  if (cpuCount < 2) {
    console.warn('pinning: fewer than 2 CPUs, not pinning');
    return null;
  }
  if (spawnSync('taskset', ['-c', '0', 'true']).status !== 0) {
    console.warn('pinning: taskset (util-linux) is not usable here, not pinning');
    return null;
  }
  const last = cpuCount - 1;
  return { gatewayCpus: String(last), restCpus: last === 1 ? '0' : `0-${last - 1}` };
}

export function pinSelf(pinning: Pinning): void {
  // -a: every thread of this process; the subgraphs and client processes inherit the affinity.
  const result = spawnSync('taskset', ['-a', '-cp', pinning.restCpus, String(process.pid)]);
  if (result.status !== 0) throw new Error(`taskset on the driver failed: ${result.stderr.toString()}`);
}

export interface Child {
  name: string;
  process: ChildProcess;
  /** Last lines of its output, shown when it fails. */
  output: string[];
  exited: Promise<number | null>;
}

export const children = new Set<Child>();

export function track(name: string, child: ChildProcess): Child {
  const output: string[] = [];
  const recordOutput = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      output.push(line);
      if (output.length > 200) output.shift();
    }
  };
  child.stdout?.on('data', recordOutput);
  child.stderr?.on('data', recordOutput);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const handle: Child = { name, process: child, output, exited };
  children.add(handle);
  void exited.then(() => children.delete(handle));
  return handle;
}

export function startChild(
  name: string,
  entry: string,
  args: string[],
  cpus: string | null,
  extraEnv: Record<string, string> = {},
): Child {
  const nodeArgs = ['--import', 'tsx', entry, ...args];
  const [command, commandArgs] = cpus
    ? ['taskset', ['-c', cpus, process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const child = spawn(command, commandArgs, {
    cwd: REPO_ROOT,
    env: {
      ...inheritedEnvironment(),
      NODE_ENV: 'production',
      APOLLO_TELEMETRY_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so that stopping it also stops anything it spawned.
    detached: true,
  });
  return track(name, child);
}

export function signalGroup(child: Child, signal: NodeJS.Signals): void {
  const pid = child.process.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

export async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  signalGroup(child, 'SIGTERM');
  const stopped = await Promise.race([child.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!stopped) {
    signalGroup(child, 'SIGKILL');
    await child.exited;
  }
}

export function stopAllChildrenSync(): void {
  for (const child of children) signalGroup(child, 'SIGKILL');
}

export function describeFailure(child: Child): string {
  const lines = child.output.slice(-30).map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line));
  return `--- last output of ${child.name} ---\n${lines.join('\n') || '(no output)'}`;
}

export async function waitForLine(child: Child, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.output.some((line) => pattern.test(line))) return;
    if (child.process.exitCode !== null)
      throw new Error(`${child.name} exited early\n${describeFailure(child)}`);
    await sleep(50);
  }
  throw new Error(`${child.name} not ready after ${timeoutMs} ms\n${describeFailure(child)}`);
}

export async function waitForReady(child: Child, url: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (child.process.exitCode !== null)
      throw new Error(`${child.name} exited early\n${describeFailure(child)}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return Date.now() - started;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms\n${describeFailure(child)}`);
}

export async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolvePort, reject) => {
    const server = createServer();
    server.once('error', () =>
      reject(new Error(`port ${port} (${what}) is in use; free it or change the port (see bench/README.md)`)),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort()));
  });
}

/** Clock ticks per second of /proc's CPU times. */
export const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/**
 * Machine-wide CPU time so far: load that is none of the benchmark's (another build or test run
 * on the same machine) makes a run unfair, and pinning cannot keep it off the gateway's core.
 */
export interface MachineCpu {
  busySeconds: number;
  stealSeconds: number;
}

export function machineCpu(): MachineCpu {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    // cpu user nice system idle iowait irq softirq steal ...
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return {
      busySeconds: (user + nice + system + irq + softirq) / CLOCK_TICKS,
      stealSeconds: steal / CLOCK_TICKS,
    };
  } catch {
    return { busySeconds: Number.NaN, stealSeconds: Number.NaN };
  }
}

/** A request's whole body as text (benchmark subgraphs take small JSON bodies). */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Runs a benchmark's `main`: Ctrl-C or SIGTERM stop its child processes before exiting, and a
 * failure is printed and stops them too, so no subgraph or gateway outlives the run.
 */
export function runBenchmark(main: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      stopAllChildrenSync();
      process.exit(130);
    });
  }
  main().catch((error: unknown) => {
    console.error(`\nFAILED: ${error instanceof Error ? error.message : String(error)}`);
    stopAllChildrenSync();
    process.exit(1);
  });
}
