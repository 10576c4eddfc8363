import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { plantInEnvironment, testEnvironment } from '../../../../test/support/environment';
import { createGitRepository, type GitRepository } from '../../../../test/support/git-fixtures';
import type { BuildOutput, InstanceEvent, StartSpec } from '../runtime';
import { BUILD_MANIFEST, createLocalRuntime, type LocalRuntime } from './local-runtime';
import { buildSpec, get, processRunning, recordingHooks, silentLogger } from './testing';

/** The common case, end to end: a Node app with a build step, from a git repository. */
describe('LocalRuntime with a Node app', () => {
  let rootDir: string;
  let runtime: LocalRuntime;
  let repo: GitRepository;
  let output: BuildOutput;
  const events: InstanceEvent[] = [];
  const deploymentId = 'dpl-node';

  const startSpec = (env: Record<string, string> = {}, extra: Partial<StartSpec> = {}): StartSpec => ({
    deploymentId,
    build: output,
    env: { GREETING: 'bonjour', ...env },
    healthcheckPath: '/',
    timeouts: { startMs: 10_000, healthcheckMs: 10_000 },
    ...extra,
  });

  let removeSecret: (() => void) | undefined;
  beforeAll(async () => {
    // Stands for Construct's own secrets: set in this process, it must reach no user command.
    removeSecret = plantInEnvironment('CONSTRUCT_RUNTIME_TEST_SECRET', 'host-only');
    rootDir = await mkdtemp(join(tmpdir(), 'construct-runtime-node-'));
    runtime = createLocalRuntime({
      rootDir,
      logger: silentLogger,
      allowLocalSources: true,
      killGraceMs: 1000,
    });
    runtime.onInstanceEvent((event) => events.push(event));
    repo = await createGitRepository('node-server');
  });

  afterAll(async () => {
    removeSecret?.();
    await runtime?.close();
    await repo?.cleanup();
    await rm(rootDir, { recursive: true, force: true });
  });

  it('builds it: clone, npm install, npm run build, with progress in the build logs', async () => {
    const recorder = recordingHooks();
    output = await runtime.build(
      buildSpec({
        deploymentId,
        source: { kind: 'git', url: repo.url, ref: 'main' },
        env: { BUILD_MESSAGE: 'made in the build' },
      }),
      recorder.hooks,
    );

    expect(output).toEqual({
      commitSha: repo.sha,
      framework: 'NODE',
      startCommand: 'npm start',
      staticDirectory: null,
    });
    expect(recorder.stepSummary()).toEqual(['SOURCE', 'INSTALL', 'BUILD']);
    const system = recorder.lines('BUILD', 'SYSTEM');
    expect(system[0]).toBe(`Cloning ${repo.url} (ref main)`);
    expect(system).toContain('Detected a Node.js app.');
    expect(system).toContain('Running "npm install --no-audit --no-fund"');
    expect(system).toContain('Running "npm run build"');
    expect(system.some((line) => /^Install finished in [\d.]+ m?s$/.test(line))).toBe(true);
    expect(system.some((line) => /^Build finished in [\d.]+ m?s$/.test(line))).toBe(true);
    expect(system.at(-1)).toBe('The app will start with "npm start".');
    expect(recorder.lines('BUILD', 'STDOUT')).toContain('wrote build-info.json');
    expect(recorder.lines('RUNTIME')).toEqual([]);
    expect(await runtime.hasBuild(deploymentId)).toBe(true);
  });

  it('runs the build with the deployment’s variables and nothing of the host’s', async () => {
    const deploymentDir = join(rootDir, 'deployments', deploymentId);
    const info = JSON.parse(await readFile(join(deploymentDir, 'source', 'build-info.json'), 'utf8'));
    expect(info.message).toBe('made in the build');
    expect(info.ci).toBe('1');
    expect(info.home).toBe(join(deploymentDir, 'home'));
    // Set in this process by the test and by vitest's config: none may leak.
    for (const name of [
      'CONSTRUCT_RUNTIME_TEST_SECRET',
      'LOG_LEVEL',
      'APOLLO_TELEMETRY_DISABLED',
      'TEST_DATABASE_URL',
    ]) {
      expect(info.envKeys).not.toContain(name);
    }
    const manifest = JSON.parse(await readFile(join(deploymentDir, BUILD_MANIFEST), 'utf8'));
    expect(manifest).toMatchObject({ version: 1, deploymentId, appDirectory: 'source', output });
  });

  it('starts it, health-checks it, and the app answers with its build and variables', async () => {
    const recorder = recordingHooks();
    const instance = await runtime.start(startSpec(), recorder.hooks);
    expect(instance.deploymentId).toBe(deploymentId);
    expect(instance.target).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(recorder.stepSummary()).toEqual(['START', 'HEALTHCHECK']);

    const home = await get(instance.target, '/');
    expect(home.status).toBe(200);
    expect(home.body).toContain('bonjour from node-server');
    expect(home.body).toContain('built, message "made in the build"');

    const env = async (name: string) => {
      const res = await get(instance.target, `/env/${name}`);
      return res.status === 200 ? res.body : undefined;
    };
    expect(await env('PORT')).toBe(new URL(instance.target).port);
    expect(await env('NODE_ENV')).toBe('production');
    expect(await env('HOME')).toBe(join(rootDir, 'deployments', deploymentId, 'home'));
    expect(await env('npm_config_cache')).toBe(join(rootDir, 'npm-cache'));
    expect(await env('GREETING')).toBe('bonjour');
    expect(await env('BUILD_MESSAGE')).toBeUndefined();
    expect(await env('CONSTRUCT_RUNTIME_TEST_SECRET')).toBeUndefined();
    expect(await env('LOG_LEVEL')).toBeUndefined();
    expect(await env('CI')).toBeUndefined();
    const appBin = join(rootDir, 'deployments', deploymentId, 'source', 'node_modules', '.bin');
    // npm start puts its own folders first; ours follow.
    const ours = `${appBin}:${testEnvironment.path}`;
    expect((await env('PATH'))?.slice(-ours.length)).toBe(ours);

    expect(recorder.lines('RUNTIME', 'SYSTEM')).toEqual([
      `Starting "npm start" on port ${new URL(instance.target).port}`,
      expect.stringMatching(/^The app answered GET \/ with 200 after [\d.]+ m?s$/),
    ]);
    // The app's output keeps flowing to the same sink after the pipeline is done with it.
    expect(recorder.lines('RUNTIME', 'STDOUT')).toContain(`listening on ${new URL(instance.target).port}`);
    // The app logs a request after answering it: the line may reach the pipe a moment later.
    await vi.waitFor(() => expect(recorder.lines('RUNTIME', 'STDOUT')).toContain('GET /env/GREETING'), {
      timeout: 10_000,
    });

    const pid = Number(/pid (\d+)/.exec(home.body)?.[1]);
    await runtime.stop(deploymentId);
    // Stopped gracefully: SIGTERM reached the app itself, not only npm.
    expect(recorder.lines('RUNTIME', 'STDOUT')).toContain('SIGTERM received, closing');
    expect(processRunning(pid)).toBe(false);
    await expect(get(instance.target, '/')).rejects.toThrow(/ECONNREFUSED/);
    expect(events).toEqual([]);
  });

  it('lets a NODE_ENV of the deployment win', async () => {
    const instance = await runtime.start(startSpec({ NODE_ENV: 'staging' }), recordingHooks().hooks);
    expect((await get(instance.target, '/env/NODE_ENV')).body).toBe('staging');
    await runtime.stop(deploymentId);
  });

  it('health-checks the path it is given', async () => {
    const failing = recordingHooks();
    const spec = startSpec(
      {},
      { healthcheckPath: '/env/MISSING', timeouts: { startMs: 10_000, healthcheckMs: 600 } },
    );
    const error = await runtime.start(spec, failing.hooks).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'StepFailure',
      step: 'HEALTHCHECK',
      message:
        'The app did not answer GET /env/MISSING with a success status within 600 ms (last answer: 404).',
    });
    expect(failing.stepSummary()).toEqual(['START', 'HEALTHCHECK failed']);

    const instance = await runtime.start(
      startSpec({ PRESENT: 'yes' }, { healthcheckPath: '/env/PRESENT' }),
      recordingHooks().hooks,
    );
    expect((await get(instance.target, '/')).status).toBe(200);
    await runtime.stop(deploymentId);
  });

  it('starts a stored build from a new runtime on the same folder, as after a restart of Construct', async () => {
    const again = createLocalRuntime({
      rootDir,
      logger: silentLogger,
      allowLocalSources: true,
      killGraceMs: 1000,
    });
    try {
      expect(await again.hasBuild(deploymentId)).toBe(true);
      const instance = await again.start(startSpec({ GREETING: 'welcome back' }), recordingHooks().hooks);
      expect((await get(instance.target, '/')).body).toContain('welcome back from node-server');
    } finally {
      await again.close();
    }
    expect(events).toEqual([]);
  });

  it('remove() deletes what the build left', async () => {
    const instance = await runtime.start(startSpec(), recordingHooks().hooks);
    await runtime.remove(deploymentId);
    await expect(get(instance.target, '/')).rejects.toThrow(/ECONNREFUSED/);
    expect(await runtime.hasBuild(deploymentId)).toBe(false);
    const recorder = recordingHooks();
    const error = await runtime.start(startSpec(), recorder.hooks).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'StepFailure',
      step: 'START',
      message: expect.stringMatching(/deploy it again/),
    });
    expect(recorder.stepSummary()).toEqual(['START failed']);
    // Build a fresh copy for the tests that follow.
    output = await runtime.build(
      buildSpec({ deploymentId, source: { kind: 'git', url: repo.url, ref: 'main' } }),
      recordingHooks().hooks,
    );
  });

  it('close() stops every instance without reporting crashes', async () => {
    const instance = await runtime.start(startSpec(), recordingHooks().hooks);
    const pid = Number(/pid (\d+)/.exec((await get(instance.target, '/')).body)?.[1]);
    await runtime.close();
    expect(processRunning(pid)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events).toEqual([]);
  });
});
