import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** Longest line passed on to the logs; the rest of a longer line is dropped. */
export const MAX_LINE_LENGTH = 8192;
/** How long a process group gets between SIGTERM and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 3000;

export type OutputStream = 'STDOUT' | 'STDERR';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (missing program or working directory). */
  error?: Error;
}

/**
 * Cuts a byte stream into lines without their line ending, decoding UTF-8 across chunk
 * boundaries. A line longer than `maxLength` is passed on cut short and marked, so one minified
 * bundle printed on a single line cannot fill the logs.
 */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  #pending = '';
  #discarding = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLength = MAX_LINE_LENGTH,
  ) {}

  write(chunk: Buffer | string): void {
    this.#push(typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
  }

  /** Passes on the last line even when it has no line ending. */
  end(): void {
    this.#push(this.#decoder.end());
    if (this.#pending !== '') this.#flush();
    this.#discarding = false;
  }

  #push(text: string): void {
    let start = 0;
    for (;;) {
      const newline = text.indexOf('\n', start);
      if (newline === -1) {
        this.#append(text.slice(start));
        return;
      }
      this.#append(text.slice(start, newline));
      if (this.#discarding) this.#discarding = false;
      else this.#flush();
      start = newline + 1;
    }
  }

  #append(part: string): void {
    if (this.#discarding || part === '') return;
    this.#pending += part;
    if (this.#pending.length > this.maxLength) {
      let cut = this.maxLength;
      // Never split a surrogate pair: half an emoji is not valid text.
      const code = this.#pending.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
      this.onLine(`${this.#pending.slice(0, cut)} … [line cut at ${this.maxLength} characters]`);
      this.#pending = '';
      this.#discarding = true;
    }
  }

  #flush(): void {
    const line = this.#pending.endsWith('\r') ? this.#pending.slice(0, -1) : this.#pending;
    this.#pending = '';
    this.onLine(line);
  }
}

/** A process started as the leader of its own process group, so what it starts dies with it. */
export interface ProcessGroup {
  readonly pid: number | undefined;
  /** Resolves once the leader has exited and all its output has been read. */
  readonly exited: Promise<ExitStatus>;
  /** The exit status, once exited. */
  readonly status: ExitStatus | null;
  /**
   * SIGTERM to the whole group, SIGKILL to what is left after `graceMs`; resolves once the group
   * is gone. Safe to call more than once and after the process exited.
   */
  kill(graceMs?: number): Promise<ExitStatus>;
}

export interface SpawnGroupOptions {
  cwd: string;
  env: Record<string, string>;
  onLine?: (stream: OutputStream, line: string) => void;
  /** Where the group is written down while it runs (see ledger.ts). */
  ledger?: { record(pgid: number, cwd: string): void; forget(pgid: number): void };
}

export function spawnGroup(file: string, args: readonly string[], options: SpawnGroupOptions): ProcessGroup {
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  let status: ExitStatus | null = null;
  let killing: Promise<ExitStatus> | null = null;
  if (pid !== undefined) options.ledger?.record(pid, options.cwd);

  for (const [stream, name] of [
    [child.stdout, 'STDOUT'],
    [child.stderr, 'STDERR'],
  ] as const) {
    const splitter = new LineSplitter((line) => options.onLine?.(name, line));
    stream.on('data', (chunk: Buffer) => splitter.write(chunk));
    stream.on('end', () => splitter.end());
  }

  const exited = new Promise<ExitStatus>((resolve) => {
    child.on('error', (error) => {
      // Only a failed spawn leaves no 'close' to wait for.
      if (pid === undefined) {
        status = { code: null, signal: null, error };
        resolve(status);
      }
    });
    child.on('exit', () => {
      // Whatever the leader left running in the background (`node server.js &`, a daemonized
      // watcher) would live on as an orphan: it goes with the leader. While `kill` runs, the
      // group gets its grace period instead.
      if (!killing && pid !== undefined) signalGroup(pid, 'SIGKILL');
    });
    child.on('close', (code, signal) => {
      if (status?.error) return;
      if (pid !== undefined) options.ledger?.forget(pid);
      status = { code, signal };
      resolve(status);
    });
  });

  const kill = (graceMs = DEFAULT_KILL_GRACE_MS): Promise<ExitStatus> => {
    if (pid === undefined) return exited;
    killing ??= terminateGroup(pid, graceMs).then(() => exited);
    return killing;
  };

  return {
    pid,
    exited,
    get status() {
      return status;
    },
    kill,
  };
}

export type RunResult =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null }
  | { kind: 'timed-out' };

export interface RunOptions extends SpawnGroupOptions {
  timeoutMs: number;
  /** Aborting kills the whole group, then the call rejects with the signal's reason. */
  signal: AbortSignal;
  killGraceMs?: number;
}

/**
 * Runs a program to its end in a process group of its own. A timeout kills the group and says
 * so; an abort kills it and rejects with the abort reason; a program that cannot be started at
 * all rejects with the spawn error.
 */
export async function runProcess(
  file: string,
  args: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  options.signal.throwIfAborted();
  const group = spawnGroup(file, args, options);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const outcome = await Promise.race([
      group.exited.then((status) => ({ kind: 'exited' as const, status })),
      new Promise<{ kind: 'timed-out' }>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'timed-out' }), options.timeoutMs);
      }),
      new Promise<{ kind: 'aborted' }>((resolve) => {
        onAbort = () => resolve({ kind: 'aborted' });
        options.signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    if (outcome.kind === 'exited') {
      if (outcome.status.error) throw outcome.status.error;
      return { kind: 'exited', code: outcome.status.code, signal: outcome.status.signal };
    }
    await group.kill(options.killGraceMs);
    if (outcome.kind === 'aborted') throw options.signal.reason;
    return { kind: 'timed-out' };
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal.removeEventListener('abort', onAbort);
  }
}

/** The argv that runs a user's command line the way a terminal would. */
export function shellCommand(command: string): [string, string[]] {
  return ['/bin/sh', ['-c', command]];
}

/** "code 3", "signal SIGKILL": how a process ended, for messages. */
export function describeExit(status: Pick<ExitStatus, 'code' | 'signal'>): string {
  if (status.signal) return `signal ${status.signal}`;
  return `code ${status.code ?? 'unknown'}`;
}

/** A duration for people: "600 s", "1.5 s", "250 ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  return `${seconds >= 100 ? Math.round(seconds) : Number(seconds.toFixed(1))} s`;
}

/** SIGTERM to the group, SIGKILL to what is left of it after `graceMs`. */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
  if (groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
}

/** Whether any process of the group is still running (zombies waiting to be reaped do not count). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // kill(-pgid, 0) also succeeds for zombies: killed orphans stay in the group until whatever
  // adopted them reaps them, which a container's PID 1 may do late or never.
  return process.platform !== 'linux' || groupMembers(pgid).length > 0;
}

/** The running (not zombie) processes of a group, from /proc; empty where there is no /proc. */
export function groupMembers(pgid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const members: number[] = [];
  for (const entry of entries) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp …", where comm may itself hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') members.push(Number(entry));
  }
  return members;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
