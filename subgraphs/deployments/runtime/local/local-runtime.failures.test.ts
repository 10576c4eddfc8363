import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGitRepository, type GitRepository } from '../../../../test/support/git-fixtures';
import { type BuildSpec, Canceled, type StartSpec, StepFailure } from '../runtime';
import { CANNOT_TELL } from './detect';
import { createLocalRuntime, type LocalRuntime } from './local-runtime';
import { groupAlive } from './processes';
import { buildSpec, get, makeTarball, recordingHooks, silentLogger } from './testing';

/** What users see when their deployment fails: the failed step and a message they can act on. */
describe('LocalRuntime failures', () => {
  let rootDir: string;
  let runtime: LocalRuntime;
  const repos: GitRepository[] = [];
  let ids = 0;

  beforeAll(async () => {
    rootDir = await mkdtemp(join(tmpdir(), 'construct-runtime-failures-'));
    runtime = createLocalRuntime({
      rootDir,
      logger: silentLogger,
      allowLocalSources: true,
      killGraceMs: 1000,
    });
  });

  afterAll(async () => {
    await runtime?.close();
    await Promise.all(repos.map((repo) => repo.cleanup()));
    await rm(rootDir, { recursive: true, force: true });
  });

  async function repository(fixture: string): Promise<GitRepository> {
    const repo = await createGitRepository(fixture);
    repos.push(repo);
    return repo;
  }

  async function upload(entries: Parameters<typeof makeTarball>[0]): Promise<BuildSpec['source']> {
    const archivePath = join(rootDir, `upload-${++ids}.tar.gz`);
    await writeFile(archivePath, makeTarball(entries));
    return { kind: 'upload', archivePath };
  }

  /** Runs a build expected to fail; the failure, its recorder and the deployment id. */
  async function failedBuild(spec: Omit<Partial<BuildSpec>, 'deploymentId'> & Pick<BuildSpec, 'source'>) {
    const recorder = recordingHooks();
    const deploymentId = `dpl-fail-${++ids}`;
    const error = await runtime
      .build(buildSpec({ deploymentId, ...spec }), recorder.hooks)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailure);
    expect(await runtime.hasBuild(deploymentId)).toBe(false);
    return { error: error as StepFailure, recorder, deploymentId };
  }

  async function built(fixture: string): Promise<{ deploymentId: string; build: StartSpec['build'] }> {
    const repo = await repository(fixture);
    const deploymentId = `dpl-ok-${++ids}`;
    const build = await runtime.build(
      buildSpec({ deploymentId, source: { kind: 'git', url: repo.url, ref: 'main' } }),
      recordingHooks().hooks,
    );
    return { deploymentId, build };
  }

  const startSpec = (deploymentId: string, build: StartSpec['build'], timeouts = {}): StartSpec => ({
    deploymentId,
    build,
    env: {},
    healthcheckPath: '/',
    timeouts: { startMs: 5000, healthcheckMs: 1000, ...timeouts },
  });

  it('a failing build: BUILD fails, naming the command and its exit code; its output is in the logs', async () => {
    const repo = await repository('failing-build');
    const { error, recorder } = await failedBuild({ source: { kind: 'git', url: repo.url, ref: 'main' } });
    expect(error.step).toBe('BUILD');
    expect(error.message).toBe('The build command "npm run build" exited with code 1. See the build logs.');
    expect(recorder.stepSummary()).toEqual(['SOURCE', 'INSTALL', 'BUILD failed']);
    expect(recorder.lines('BUILD', 'STDERR')).toContain('error TS2304: Cannot find name fixtureBuildError.');
  });

  it('a failing install: INSTALL fails the same way', async () => {
    const repo = await repository('node-server');
    const { error, recorder } = await failedBuild({
      source: { kind: 'git', url: repo.url, ref: 'main' },
      commands: {
        install: 'echo "npm ERR! 404 left-pad@9.9.9 not found" >&2; exit 1',
        build: null,
        start: null,
      },
    });
    expect(error.step).toBe('INSTALL');
    expect(error.message).toMatch(
      /^The install command "echo .*" exited with code 1\. See the build logs\.$/,
    );
    expect(recorder.stepSummary()).toEqual(['SOURCE', 'INSTALL failed']);
    expect(recorder.lines('BUILD', 'STDERR')).toEqual(['npm ERR! 404 left-pad@9.9.9 not found']);
  });

  it('a branch that does not exist: SOURCE fails saying so', async () => {
    const repo = await repository('static-site');
    const { error, recorder } = await failedBuild({ source: { kind: 'git', url: repo.url, ref: 'develop' } });
    expect(error).toMatchObject({
      step: 'SOURCE',
      message: "The repository has no branch or tag named 'develop'.",
    });
    expect(recorder.stepSummary()).toEqual(['SOURCE failed']);
  });

  it('a repository that cannot be read: SOURCE fails with git’s reason', async () => {
    const url = `file://${join(rootDir, 'nothing-here')}`;
    const { error } = await failedBuild({ source: { kind: 'git', url, ref: 'main' } });
    expect(error.step).toBe('SOURCE');
    expect(error.message).toMatch(
      new RegExp(`^Could not read the repository at ${url}: .*does not appear to be a git repository`),
    );
  });

  it('a local repository on a runtime that does not allow them: refused', async () => {
    const strict = createLocalRuntime({ rootDir, logger: silentLogger, allowLocalSources: false });
    const repo = await repository('static-site');
    const error = await strict
      .build(
        buildSpec({ deploymentId: 'dpl-strict', source: { kind: 'git', url: repo.url, ref: 'main' } }),
        recordingHooks().hooks,
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ step: 'SOURCE', message: expect.stringMatching(/not allowed here/) });
  });

  it('an app nothing recognises: BUILD fails saying what to add', async () => {
    const source = await upload([{ path: 'README.md', body: '# nothing to run' }]);
    const { error, recorder } = await failedBuild({ source });
    expect(error).toMatchObject({ step: 'BUILD', message: CANNOT_TELL });
    expect(recorder.stepSummary()).toEqual(['SOURCE', 'INSTALL (skipped)', 'BUILD failed']);
  });

  it('a package.json that is not JSON: INSTALL fails naming the file', async () => {
    const source = await upload([{ path: 'package.json', body: '{ "name": "broken",' }]);
    const { error, recorder } = await failedBuild({ source });
    expect(error.step).toBe('INSTALL');
    expect(error.message).toMatch(/^package\.json is not valid JSON: /);
    expect(recorder.stepSummary()).toEqual(['SOURCE', 'INSTALL failed']);
  });

  it('a root directory that leads out of the repository through a symbolic link: SOURCE fails', async () => {
    const repo = await repository('static-site');
    await symlink(tmpdir(), join(repo.path, 'escape'));
    const git = (...args: string[]) =>
      promisify(execFile)('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], {
        cwd: repo.path,
      });
    await git('add', 'escape');
    await git('commit', '--quiet', '-m', 'Add a link out');
    const { error } = await failedBuild({
      source: { kind: 'git', url: repo.url, ref: 'main' },
      rootDirectory: 'escape',
    });
    expect(error).toMatchObject({
      step: 'SOURCE',
      message: "The root directory 'escape' leads outside the source through a symbolic link.",
    });
  });

  it('a static output folder that leads out of the repository through a symbolic link: BUILD fails', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'construct-outside-'));
    try {
      await writeFile(join(outside, 'index.html'), 'not yours');
      const repo = await repository('static-site');
      await symlink(outside, join(repo.path, 'dist'));
      const git = (...args: string[]) =>
        promisify(execFile)('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], {
          cwd: repo.path,
        });
      await git('add', 'dist');
      await git('commit', '--quiet', '-m', 'Add a link out');
      const { error } = await failedBuild({
        source: { kind: 'git', url: repo.url, ref: 'main' },
        commands: { install: null, build: 'true', start: null },
      });
      expect(error).toMatchObject({
        step: 'BUILD',
        message: "The folder 'dist' leads outside the source through a symbolic link.",
      });
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('a build that runs too long: BUILD fails with the timeout, and nothing is left running', async () => {
    const source = await upload([{ path: 'index.html', body: 'x' }]);
    const started = Date.now();
    const { error, recorder } = await failedBuild({
      source,
      commands: { install: null, build: 'echo "group $$"; sleep 30', start: null },
      timeouts: { ...buildSpec({ deploymentId: 'x', source }).timeouts, buildMs: 500 },
    });
    expect(error).toMatchObject({
      step: 'BUILD',
      message: 'The build command did not finish within 500 ms.',
    });
    expect(Date.now() - started).toBeLessThan(5000);
    const pgid = Number(recorder.lines('BUILD', 'STDOUT')[0]?.replace('group ', ''));
    expect(groupAlive(pgid)).toBe(false);
  });

  it('a canceled build stops at once, with nothing left running and nothing left built', async () => {
    const source = await upload([{ path: 'index.html', body: 'x' }]);
    const controller = new AbortController();
    const recorder = recordingHooks(controller.signal);
    const deploymentId = 'dpl-cancel';
    const building = runtime
      .build(
        buildSpec({
          deploymentId,
          source,
          commands: { install: null, build: 'echo "group $$"; sleep 30', start: null },
        }),
        recorder.hooks,
      )
      .catch((e: unknown) => e);
    await expect.poll(() => recorder.lines('BUILD', 'STDOUT').length, { timeout: 10_000 }).toBe(1);
    const canceled = new Canceled();
    const started = Date.now();
    controller.abort(canceled);
    expect(await building).toBe(canceled);
    expect(Date.now() - started).toBeLessThan(2000);
    const pgid = Number(recorder.lines('BUILD', 'STDOUT')[0]?.replace('group ', ''));
    expect(groupAlive(pgid)).toBe(false);
    expect(recorder.stepSummary()).toEqual(['SOURCE', 'INSTALL (skipped)', 'BUILD failed']);
    expect(await runtime.hasBuild(deploymentId)).toBe(false);
    expect(existsSync(join(rootDir, 'deployments', deploymentId, 'source'))).toBe(false);
  });

  it('an app that exits on start: START fails with its exit code; its last words are in the logs', async () => {
    const { deploymentId, build } = await built('exits-on-start');
    const recorder = recordingHooks();
    const error = await runtime
      .start(startSpec(deploymentId, build), recorder.hooks)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailure);
    expect(error).toMatchObject({
      step: 'START',
      message: expect.stringMatching(
        /^The app exited with code 3 before it answered on port \d+\. See the runtime logs\.$/,
      ),
    });
    expect(recorder.stepSummary()).toEqual(['START failed']);
    expect(recorder.lines('RUNTIME', 'STDERR')).toContain('fatal: DATABASE_URL is not set');
  });

  it('an app that never answers well: HEALTHCHECK fails with its last answer, and the app is stopped', async () => {
    const { deploymentId, build } = await built('never-healthy');
    const recorder = recordingHooks();
    const error = await runtime
      .start(startSpec(deploymentId, build), recorder.hooks)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      step: 'HEALTHCHECK',
      message: 'The app did not answer GET / with a success status within 1 s (last answer: 500).',
    });
    expect(recorder.stepSummary()).toEqual(['START', 'HEALTHCHECK failed']);
    const port = /listening on (\d+)/.exec(recorder.lines('RUNTIME', 'STDOUT').join('\n'))?.[1];
    await expect(get(`http://127.0.0.1:${port}`, '/')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('an app that does not listen on PORT: START fails saying so', async () => {
    const source = await upload([{ path: 'index.html', body: 'x' }]);
    const deploymentId = 'dpl-no-listen';
    await runtime.build(buildSpec({ deploymentId, source }), recordingHooks().hooks);
    const build = {
      commitSha: null,
      framework: 'NODE' as const,
      startCommand: 'sleep 30',
      staticDirectory: null,
    };
    const error = await runtime
      .start(startSpec(deploymentId, build, { startMs: 500 }), recordingHooks().hooks)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      step: 'START',
      message: expect.stringMatching(
        /^The app did not listen on port \d+ within 500 ms\. Make sure it listens on the port in the PORT environment variable\.$/,
      ),
    });
  });

  it('a start canceled while waiting for the app: rejects with the cancel, app stopped', async () => {
    const source = await upload([{ path: 'index.html', body: 'x' }]);
    const deploymentId = 'dpl-cancel-start';
    await runtime.build(buildSpec({ deploymentId, source }), recordingHooks().hooks);
    const build = {
      commitSha: null,
      framework: 'NODE' as const,
      startCommand: 'echo "group $$"; sleep 30',
      staticDirectory: null,
    };
    const controller = new AbortController();
    const recorder = recordingHooks(controller.signal);
    const starting = runtime.start(startSpec(deploymentId, build), recorder.hooks).catch((e: unknown) => e);
    await expect.poll(() => recorder.lines('RUNTIME', 'STDOUT').length).toBe(1);
    const canceled = new Canceled();
    controller.abort(canceled);
    expect(await starting).toBe(canceled);
    const pgid = Number(recorder.lines('RUNTIME', 'STDOUT')[0]?.replace('group ', ''));
    expect(groupAlive(pgid)).toBe(false);
  });
});
