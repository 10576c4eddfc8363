import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plantInEnvironment, testEnvironment } from '../../../../test/support/environment';
import { Canceled } from '../runtime';
import {
  formatDuration,
  groupAlive,
  LineSplitter,
  type OutputStream,
  runProcess,
  shellCommand,
  spawnGroup,
} from './processes';

function split(chunks: (string | Buffer)[], maxLength?: number): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line), maxLength);
  for (const chunk of chunks) splitter.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  splitter.end();
  return lines;
}

describe('LineSplitter', () => {
  it('splits on newlines across chunks, drops \\r, keeps empty lines and a last line without newline', () => {
    expect(split(['one\ntw', 'o\r\n\nthr', 'ee'])).toEqual(['one', 'two', '', 'three']);
    expect(split(['done\n'])).toEqual(['done']);
    expect(split([])).toEqual([]);
  });

  it('decodes a UTF-8 character split between two chunks', () => {
    const bytes = Buffer.from('naïve ✓ 🚀\n');
    const chunks = Array.from(bytes, (byte) => Buffer.from([byte]));
    expect(split(chunks)).toEqual(['naïve ✓ 🚀']);
  });

  it('cuts an overlong line, marks it, and resumes at the next line', () => {
    const lines = split([`${'x'.repeat(30)}\nnext\n`], 10);
    expect(lines).toEqual([`${'x'.repeat(10)} … [line cut at 10 characters]`, 'next']);
    const streamed = split(['x'.repeat(6), 'x'.repeat(6), 'x'.repeat(6), '\nafter'], 10);
    expect(streamed).toHaveLength(2);
    expect(streamed[1]).toBe('after');
  });

  it('never cuts an emoji in half', () => {
    const [line] = split([`${'a'.repeat(9)}🚀🚀\n`], 10);
    expect(line).toMatch(/^a{9} … /);
  });
});

describe('runProcess', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'construct-processes-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const options = (extra: Partial<Parameters<typeof runProcess>[2]> = {}) => {
    const lines: [OutputStream, string][] = [];
    return {
      lines,
      options: {
        cwd: dir,
        env: { PATH: testEnvironment.path },
        timeoutMs: 10_000,
        signal: new AbortController().signal,
        killGraceMs: 500,
        onLine: (stream: OutputStream, line: string) => lines.push([stream, line]),
        ...extra,
      },
    };
  };

  it('reports the exit code and both streams, line by line', async () => {
    const { lines, options: opts } = options();
    const [file, args] = shellCommand('echo out; echo err >&2; printf partial; exit 7');
    await expect(runProcess(file, args, opts)).resolves.toEqual({ kind: 'exited', code: 7, signal: null });
    expect(lines).toContainEqual(['STDOUT', 'out']);
    expect(lines).toContainEqual(['STDERR', 'err']);
    expect(lines).toContainEqual(['STDOUT', 'partial']);
  });

  it('runs with exactly the environment it is given', async () => {
    const remove = plantInEnvironment('CONSTRUCT_PROCESSES_TEST_SECRET', 'must not leak');
    try {
      const { lines, options: opts } = options({ env: { PATH: testEnvironment.path, ONLY: 'this' } });
      const [file, args] = shellCommand('env');
      await runProcess(file, args, opts);
      const names = lines
        .map(([, line]) => line.split('=')[0])
        .filter((name) => !['PWD', 'SHLVL', '_'].includes(name!));
      expect(names.sort()).toEqual(['ONLY', 'PATH']);
    } finally {
      remove();
    }
  });

  it('on timeout kills the whole process group, grandchildren included', async () => {
    const { lines, options: opts } = options({ timeoutMs: 300 });
    // A grandchild in the background, the shell waiting on a child: both must die.
    const [file, args] = shellCommand('echo "group $$"; sleep 30 & sleep 30; wait');
    const started = Date.now();
    await expect(runProcess(file, args, opts)).resolves.toEqual({ kind: 'timed-out' });
    expect(Date.now() - started).toBeLessThan(3000);
    const pgid = Number(lines.find(([, line]) => line.startsWith('group '))?.[1].slice(6));
    expect(pgid).toBeGreaterThan(0);
    expect(groupAlive(pgid)).toBe(false);
  });

  it('SIGKILLs a group that ignores SIGTERM once the grace period is over', async () => {
    const { lines, options: opts } = options({ timeoutMs: 200, killGraceMs: 300 });
    const [file, args] = shellCommand(`trap '' TERM; echo "group $$"; sleep 30 & sleep 30; wait`);
    const started = Date.now();
    await expect(runProcess(file, args, opts)).resolves.toEqual({ kind: 'timed-out' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    const pgid = Number(lines.find(([, line]) => line.startsWith('group '))?.[1].slice(6));
    expect(groupAlive(pgid)).toBe(false);
  });

  it('on abort kills the group and rejects with the abort reason', async () => {
    const controller = new AbortController();
    const { lines, options: opts } = options({ signal: controller.signal });
    const [file, args] = shellCommand('echo "group $$"; sleep 30');
    const running = runProcess(file, args, opts);
    await expect.poll(() => lines.length).toBeGreaterThan(0);
    const canceled = new Canceled();
    controller.abort(canceled);
    await expect(running).rejects.toBe(canceled);
    const pgid = Number(lines[0]?.[1].slice(6));
    expect(groupAlive(pgid)).toBe(false);
  });

  it('does not start at all when already aborted', async () => {
    const controller = new AbortController();
    const canceled = new Canceled();
    controller.abort(canceled);
    const { options: opts } = options({ signal: controller.signal });
    await expect(runProcess('/bin/sh', ['-c', 'exit 0'], opts)).rejects.toBe(canceled);
  });

  it('leaves no background process behind when the command itself ends', async () => {
    const { lines, options: opts } = options();
    const [file, args] = shellCommand('echo "group $$"; sleep 30 >/dev/null 2>&1 & exit 0');
    await expect(runProcess(file, args, opts)).resolves.toMatchObject({ kind: 'exited', code: 0 });
    const pgid = Number(lines[0]?.[1].slice(6));
    await expect.poll(() => groupAlive(pgid), { timeout: 2000 }).toBe(false);
  });

  it('rejects when the program cannot be started', async () => {
    const { options: opts } = options({ cwd: join(dir, 'missing') });
    await expect(runProcess('/bin/sh', ['-c', 'true'], opts)).rejects.toThrow(/ENOENT/);
  });
});

describe('spawnGroup', () => {
  it('kill() is idempotent and resolves with the exit status', async () => {
    const group = spawnGroup('/bin/sh', ['-c', 'sleep 30'], { cwd: tmpdir(), env: {} });
    const [first, second] = await Promise.all([group.kill(200), group.kill(200)]);
    expect(first).toEqual({ code: null, signal: 'SIGTERM' });
    expect(second).toBe(first);
    expect(await group.kill()).toBe(first);
  });
});

describe('formatDuration', () => {
  it('speaks in seconds or milliseconds', () => {
    expect(formatDuration(600_000)).toBe('600 s');
    expect(formatDuration(10_000)).toBe('10 s');
    expect(formatDuration(1234)).toBe('1.2 s');
    expect(formatDuration(250)).toBe('250 ms');
  });
});
