/**
 * Helpers for this folder's tests: hooks that record what a runtime reports, tarballs of any
 * shape (including malicious ones), and process checks.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { Header } from 'tar';
import type { BuildSpec, LogStream, LogType, PipelineHooks, Step, StepTimeouts } from '../runtime';

export const silentLogger = pino({ level: 'silent' });

export interface StepRecord {
  step: Step;
  skipped: boolean;
  outcome: 'running' | 'ok' | 'failed';
  error?: unknown;
}

export interface LogRecord {
  type: LogType;
  stream: LogStream;
  line: string;
}

/** Hooks as the pipeline would give them, recording every step and log line. */
export function recordingHooks(signal: AbortSignal = new AbortController().signal) {
  const steps: StepRecord[] = [];
  const logs: LogRecord[] = [];
  const hooks: PipelineHooks = {
    signal,
    log: (type, stream, line) => logs.push({ type, stream, line }),
    async step(step, run, options) {
      const record: StepRecord = { step, skipped: options?.skipped ?? false, outcome: 'running' };
      steps.push(record);
      try {
        const result = await run();
        record.outcome = 'ok';
        return result;
      } catch (error) {
        record.outcome = 'failed';
        record.error = error;
        throw error;
      }
    },
  };
  return {
    hooks,
    steps,
    logs,
    /** "SOURCE", "INSTALL (skipped)", "BUILD failed": the steps in the order reported. */
    stepSummary: () =>
      steps.map((s) => `${s.step}${s.skipped ? ' (skipped)' : ''}${s.outcome === 'failed' ? ' failed' : ''}`),
    lines: (type?: LogType, stream?: LogStream) =>
      logs.filter((l) => (!type || l.type === type) && (!stream || l.stream === stream)).map((l) => l.line),
  };
}

export const testTimeouts: StepTimeouts = {
  sourceMs: 20_000,
  installMs: 30_000,
  buildMs: 30_000,
  startMs: 10_000,
  healthcheckMs: 10_000,
};

export function buildSpec(
  overrides: Partial<BuildSpec> & Pick<BuildSpec, 'deploymentId' | 'source'>,
): BuildSpec {
  return {
    rootDirectory: '',
    commands: { install: null, build: null, start: null },
    env: {},
    timeouts: testTimeouts,
    ...overrides,
  };
}

export interface TarEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  body?: string;
  linkpath?: string;
  mode?: number;
}

/** A .tar.gz built header by header, so it can hold what no honest tool would write. */
export function makeTarball(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? 'File';
    const body = Buffer.from(entry.body ?? '');
    const header = new Header({
      path: entry.path,
      type,
      mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      size: type === 'File' ? body.length : 0,
      linkpath: entry.linkpath,
      mtime: new Date(),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block);
    blocks.push(block);
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** Whether a process runs (a zombie waiting to be reaped does not). */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** A GET with a raw path (no URL normalisation, so '/../x' is sent as is). */
export function get(
  target: string,
  path: string,
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(target);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path, method, headers, agent: false, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
