import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGitRepository, type GitRepository } from '../../../../test/support/git-fixtures';
import type { BuildOutput, InstanceEvent, StartSpec } from '../runtime';
import { createLocalRuntime, type LocalRuntime, type RestartPolicy } from './local-runtime';
import { get, processRunning, recordingHooks, silentLogger } from './testing';

/** After READY: crashes are reported, restarted with backoff, and given up on. */
describe('LocalRuntime crash recovery', () => {
  let rootDir: string;
  let repo: GitRepository;
  let build: BuildOutput;
  const runtimes: LocalRuntime[] = [];
  const deploymentId = 'dpl-crash';

  function runtimeWith(restart: Partial<RestartPolicy>) {
    const runtime = createLocalRuntime({
      rootDir,
      logger: silentLogger,
      allowLocalSources: true,
      killGraceMs: 1000,
      restart,
    });
    runtimes.push(runtime);
    const events: InstanceEvent[] = [];
    runtime.onInstanceEvent((event) => events.push(event));
    return { runtime, events, kinds: () => events.map((event) => event.kind) };
  }

  const startSpec = (env: Record<string, string>): StartSpec => ({
    deploymentId,
    build,
    env,
    healthcheckPath: '/',
    timeouts: { startMs: 5000, healthcheckMs: 5000 },
  });

  const pidOf = async (target: string) => Number(/pid (\d+)/.exec((await get(target, '/')).body)?.[1]);

  beforeAll(async () => {
    rootDir = await mkdtemp(join(tmpdir(), 'construct-runtime-crash-'));
    repo = await createGitRepository('crash-after-start');
    const { runtime } = runtimeWith({});
    build = await runtime.build(
      {
        deploymentId,
        source: { kind: 'git', url: repo.url, ref: 'main' },
        rootDirectory: '',
        commands: { install: null, build: null, start: null },
        env: {},
        timeouts: {
          sourceMs: 20_000,
          installMs: 30_000,
          buildMs: 30_000,
          startMs: 5000,
          healthcheckMs: 5000,
        },
      },
      recordingHooks().hooks,
    );
    expect(build.startCommand).toBe('node server.js');
  });

  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
  });

  afterAll(async () => {
    await repo?.cleanup();
    await rm(rootDir, { recursive: true, force: true });
  });

  it('reports a crash, restarts the app and it answers again', async () => {
    const { runtime, events, kinds } = runtimeWith({ baseDelayMs: 100 });
    const recorder = recordingHooks();
    const instance = await runtime.start(
      startSpec({ CRASH_AFTER_MS: '300', CRASH_ONCE_FILE: join(rootDir, 'crashed-once') }),
      recorder.hooks,
    );
    const firstPid = await pidOf(instance.target);

    await expect.poll(kinds, { timeout: 5000 }).toEqual(['crashed', 'restarted']);
    expect(events[0]).toEqual({ kind: 'crashed', deploymentId, exitCode: 1, signal: null, restartInMs: 100 });
    expect(events[1]).toEqual({ kind: 'restarted', deploymentId, instance });
    const secondPid = await pidOf(instance.target);
    expect(secondPid).not.toBe(firstPid);
    expect(processRunning(firstPid)).toBe(false);

    // The pipeline's sink hears about all of it, long after start() returned.
    expect(recorder.lines('RUNTIME', 'STDERR')).toContain('crashing on purpose');
    const port = new URL(instance.target).port;
    const system = recorder.lines('RUNTIME', 'SYSTEM');
    expect(system).toEqual([
      `Starting "node server.js" on port ${port}`,
      expect.stringMatching(/^The app answered GET \/ with 200 after /),
      'The app exited with code 1; restarting it in 100 ms.',
      `Starting "node server.js" on port ${port}`,
      expect.stringMatching(/^The app answered GET \/ with 200 after /),
      'The app is running again.',
    ]);

    await runtime.stop(deploymentId);
    expect(processRunning(secondPid)).toBe(false);
    expect(kinds()).toEqual(['crashed', 'restarted']);
  });

  it('backs off between restarts and gives up after maxRetries restarts that did not last', async () => {
    const { runtime, events, kinds } = runtimeWith({ maxRetries: 2, baseDelayMs: 100, maxDelayMs: 150 });
    const recorder = recordingHooks();
    const instance = await runtime.start(startSpec({ CRASH_AFTER_MS: '200' }), recorder.hooks);

    await expect.poll(kinds, { timeout: 8000 }).toContain('gave-up');
    expect(kinds()).toEqual(['crashed', 'restarted', 'crashed', 'restarted', 'gave-up']);
    expect(events.filter((e) => e.kind === 'crashed').map((e) => e.restartInMs)).toEqual([100, 150]);
    expect(events.at(-1)).toEqual({ kind: 'gave-up', deploymentId, restarts: 2 });
    expect(recorder.lines('RUNTIME', 'SYSTEM').at(-1)).toBe(
      'The app stopped 3 times in a row; it will not be restarted again. Redeploy to start it.',
    );
    await expect(get(instance.target, '/')).rejects.toThrow(/ECONNREFUSED/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(kinds()).toHaveLength(5);
  });

  it('counts restarts anew once the app has stayed up for stableAfterMs', async () => {
    const { runtime, events, kinds } = runtimeWith({ maxRetries: 1, baseDelayMs: 50, stableAfterMs: 100 });
    await runtime.start(startSpec({ CRASH_AFTER_MS: '300' }), recordingHooks().hooks);
    await expect
      .poll(() => kinds().filter((kind) => kind === 'restarted').length, { timeout: 8000 })
      .toBeGreaterThanOrEqual(3);
    expect(kinds()).not.toContain('gave-up');
    expect(events.filter((e) => e.kind === 'crashed').every((e) => e.restartInMs === 50)).toBe(true);
  });

  it('moves the app to another port when its port was taken while it was down', async () => {
    const { runtime, events, kinds } = runtimeWith({ baseDelayMs: 200 });
    const instance = await runtime.start(
      startSpec({ CRASH_AFTER_MS: '300', CRASH_ONCE_FILE: join(rootDir, 'crashed-once-port') }),
      recordingHooks().hooks,
    );
    let squatter: Server | undefined;
    runtime.onInstanceEvent((event) => {
      if (event.kind !== 'crashed') return;
      squatter = createServer().listen(Number(new URL(instance.target).port));
    });
    try {
      await expect.poll(kinds, { timeout: 5000 }).toEqual(['crashed', 'restarted']);
      const restarted = events[1];
      if (restarted?.kind !== 'restarted') throw new Error('expected a restart');
      expect(restarted.instance.target).not.toBe(instance.target);
      expect((await get(restarted.instance.target, '/')).status).toBe(200);
    } finally {
      squatter?.close();
    }
  });

  it('does not take a stop for a crash', async () => {
    const { runtime, kinds } = runtimeWith({ baseDelayMs: 50 });
    const instance = await runtime.start(startSpec({ CRASH_AFTER_MS: '60000' }), recordingHooks().hooks);
    const pid = await pidOf(instance.target);
    await runtime.stop(deploymentId);
    expect(processRunning(pid)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(kinds()).toEqual([]);
  });

  it('stop() while a restart is pending cancels it', async () => {
    const { runtime, kinds } = runtimeWith({ baseDelayMs: 300 });
    await runtime.start(startSpec({ CRASH_AFTER_MS: '100' }), recordingHooks().hooks);
    await expect.poll(kinds, { timeout: 5000 }).toEqual(['crashed']);
    await runtime.stop(deploymentId);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(kinds()).toEqual(['crashed']);
  });
});
