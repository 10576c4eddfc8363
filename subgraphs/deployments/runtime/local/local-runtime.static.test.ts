import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createGitRepository, fixturesDir, type GitRepository } from '../../../../test/support/git-fixtures';
import type { BuildOutput, StartSpec } from '../runtime';
import { createLocalRuntime, type LocalRuntime } from './local-runtime';
import { buildSpec, get, recordingHooks, silentLogger } from './testing';

describe('LocalRuntime with static sites and uploads', () => {
  let rootDir: string;
  let runtime: LocalRuntime;
  let repo: GitRepository;

  beforeAll(async () => {
    rootDir = await mkdtemp(join(tmpdir(), 'construct-runtime-static-'));
    runtime = createLocalRuntime({
      rootDir,
      logger: silentLogger,
      allowLocalSources: true,
      killGraceMs: 1000,
    });
    repo = await createGitRepository('static-site', { branch: 'gh-pages' });
  });

  afterAll(async () => {
    await runtime?.close();
    await repo?.cleanup();
    await rm(rootDir, { recursive: true, force: true });
  });

  const start = (deploymentId: string, build: BuildOutput, hooks = recordingHooks().hooks) => {
    const spec: StartSpec = {
      deploymentId,
      build,
      env: {},
      healthcheckPath: '/',
      timeouts: { startMs: 5000, healthcheckMs: 5000 },
    };
    return runtime.start(spec, hooks);
  };

  it('serves a folder with an index.html as it is, skipping install and build', async () => {
    const recorder = recordingHooks();
    const build = await runtime.build(
      buildSpec({ deploymentId: 'dpl-static', source: { kind: 'git', url: repo.url, ref: 'gh-pages' } }),
      recorder.hooks,
    );
    expect(build).toEqual({
      commitSha: repo.sha,
      framework: 'STATIC',
      startCommand: null,
      staticDirectory: '.',
    });
    expect(recorder.stepSummary()).toEqual(['SOURCE', 'INSTALL (skipped)', 'BUILD (skipped)']);
    expect(recorder.lines('BUILD', 'SYSTEM')).toContain('Detected a static site.');

    const starting = recordingHooks();
    const instance = await start('dpl-static', build, starting.hooks);
    expect(starting.stepSummary()).toEqual(['START', 'HEALTHCHECK']);
    const page = await get(instance.target, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('Hello from the static site');
    const css = await get(instance.target, '/style.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await get(instance.target, '/.git/config')).status).toBe(404);
    // The server logs after it answered: the line may reach the pipe a moment after the response.
    await vi.waitFor(() => expect(starting.lines('RUNTIME', 'STDOUT')).toContain('GET /style.css 200'), {
      timeout: 10_000,
    });
    await runtime.stop('dpl-static');
  });

  it('deploys an uploaded .tar.gz, from a root directory inside it', async () => {
    const archivePath = join(rootDir, 'upload.tar.gz');
    // The whole fixtures folder, as a monorepo would be uploaded: the app is one folder of it.
    await createTar({ gzip: true, file: archivePath, cwd: fixturesDir }, ['.']);
    const recorder = recordingHooks();
    const build = await runtime.build(
      buildSpec({
        deploymentId: 'dpl-upload',
        source: { kind: 'upload', archivePath },
        rootDirectory: 'static-site',
      }),
      recorder.hooks,
    );
    expect(build).toEqual({ commitSha: null, framework: 'STATIC', startCommand: null, staticDirectory: '.' });
    expect(recorder.lines('BUILD', 'SYSTEM')[0]).toBe('Unpacking the uploaded archive');
    const instance = await start('dpl-upload', build);
    expect((await get(instance.target, '/')).body).toContain('Hello from the static site');
    // The rest of the upload is not part of the site.
    expect((await get(instance.target, '/../node-server/server.js')).status).toBe(404);
    await runtime.stop('dpl-upload');
  });

  it('serves what a build command wrote to dist/', async () => {
    const recorder = recordingHooks();
    const build = await runtime.build(
      buildSpec({
        deploymentId: 'dpl-static-build',
        source: { kind: 'git', url: repo.url, ref: 'gh-pages' },
        commands: {
          install: null,
          build: 'mkdir -p dist && echo "<p>built at $CI</p>" > dist/index.html',
          start: null,
        },
      }),
      recorder.hooks,
    );
    expect(build).toMatchObject({ framework: 'STATIC', staticDirectory: 'dist' });
    expect(recorder.stepSummary()).toEqual(['SOURCE', 'INSTALL (skipped)', 'BUILD']);
    const instance = await start('dpl-static-build', build);
    expect((await get(instance.target, '/')).body).toBe('<p>built at 1</p>\n');
    await runtime.stop('dpl-static-build');
  });

  it('starts each build from a clean folder', async () => {
    const first = await runtime.build(
      buildSpec({
        deploymentId: 'dpl-rebuild',
        source: { kind: 'git', url: repo.url, ref: 'gh-pages' },
        commands: { install: null, build: 'touch leftover.txt', start: null },
      }),
      recordingHooks().hooks,
    );
    const recorder = recordingHooks();
    await runtime.build(
      buildSpec({
        deploymentId: 'dpl-rebuild',
        source: { kind: 'git', url: repo.url, ref: 'gh-pages' },
        commands: { install: null, build: 'test ! -e leftover.txt', start: null },
      }),
      recorder.hooks,
    );
    expect(first.framework).toBe('STATIC');
    expect(recorder.stepSummary()).toEqual(['SOURCE', 'INSTALL (skipped)', 'BUILD']);
  });
});
