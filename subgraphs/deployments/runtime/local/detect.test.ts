import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CommandOverrides, StepFailure } from '../runtime';
import { type AppPlan, CANNOT_TELL, type Detector, detectApp, shellQuote } from './detect';

const none: CommandOverrides = { install: null, build: null, start: null };
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function app(files: Record<string, string | object>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'construct-detect-'));
  dirs.push(dir);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

async function commands(plan: AppPlan) {
  return { install: plan.install, build: plan.build, run: await plan.resolveRun() };
}

describe('detectApp', () => {
  it('runs a Node app with a lockfile with npm ci, its build script and npm start', async () => {
    const dir = await app({
      'package.json': { scripts: { build: 'tsc', start: 'node dist/server.js' } },
      'package-lock.json': '{}',
    });
    const plan = await detectApp(dir, none);
    expect(plan.description).toBe('a Node.js app (package-lock.json)');
    expect(await commands(plan)).toEqual({
      install: 'npm ci --no-audit --no-fund',
      build: 'npm run build',
      run: { framework: 'NODE', startCommand: 'npm start', staticDirectory: null },
    });
  });

  it('uses npm install without a lockfile and skips a build the app does not have', async () => {
    const dir = await app({ 'package.json': { scripts: { start: 'node server.js' } } });
    const plan = await detectApp(dir, none);
    expect(plan.install).toBe('npm install --no-audit --no-fund');
    expect(plan.build).toBeNull();
  });

  it('falls back to the main field, then server.js, then index.js', async () => {
    const withMain = await app({ 'package.json': { main: 'lib/my app.js' }, 'lib/my app.js': '' });
    expect((await detectApp(withMain, none).then((p) => p.resolveRun()))?.startCommand).toBe(
      "node 'lib/my app.js'",
    );

    const mainWithoutExtension = await app({ 'package.json': { main: 'lib/start' }, 'lib/start.js': '' });
    expect((await detectApp(mainWithoutExtension, none).then((p) => p.resolveRun()))?.startCommand).toBe(
      'node lib/start',
    );

    const missingMain = await app({ 'package.json': { main: 'gone.js' }, 'index.js': '' });
    expect((await detectApp(missingMain, none).then((p) => p.resolveRun()))?.startCommand).toBe(
      'node index.js',
    );

    const both = await app({ 'package.json': {}, 'server.js': '', 'index.js': '' });
    expect((await detectApp(both, none).then((p) => p.resolveRun()))?.startCommand).toBe('node server.js');
  });

  it('serves the output of a Node build that has no server (dist, build, out, public, then the root)', async () => {
    const dir = await app({ 'package.json': { scripts: { build: 'vite build' } }, 'index.html': 'source' });
    const plan = await detectApp(dir, none);
    expect(plan.build).toBe('npm run build');
    // What the build writes decides: before it, only the root has an index.html.
    expect(await plan.resolveRun()).toEqual({
      framework: 'STATIC',
      startCommand: null,
      staticDirectory: '.',
    });
    await mkdir(join(dir, 'dist'));
    await writeFile(join(dir, 'dist', 'index.html'), 'built');
    expect(await plan.resolveRun()).toEqual({
      framework: 'STATIC',
      startCommand: null,
      staticDirectory: 'dist',
    });
  });

  it('serves a folder with an index.html and no package.json as it is, without install or build', async () => {
    const dir = await app({ 'index.html': '<h1>hi</h1>', 'public/index.html': 'other' });
    expect(await commands(await detectApp(dir, none))).toEqual({
      install: null,
      build: null,
      run: { framework: 'STATIC', startCommand: null, staticDirectory: '.' },
    });
  });

  it('lets the project’s commands win over what was detected', async () => {
    const dir = await app({
      'package.json': { scripts: { build: 'x', start: 'y' } },
      'package-lock.json': '{}',
    });
    const overrides = { install: 'pnpm install', build: 'pnpm build', start: 'pnpm start --port $PORT' };
    expect(await commands(await detectApp(dir, overrides))).toEqual({
      install: 'pnpm install',
      build: 'pnpm build',
      run: { framework: 'NODE', startCommand: 'pnpm start --port $PORT', staticDirectory: null },
    });

    const site = await app({ 'index.html': 'x' });
    const built = await detectApp(site, { install: null, build: 'mkdir -p out', start: null });
    expect(built.build).toBe('mkdir -p out');
  });

  it('runs an app no detector knows with the project’s own commands, and cannot tell without them', async () => {
    const dir = await app({ 'main.py': 'print(1)' });
    const custom = await detectApp(dir, {
      install: 'pip install -r requirements.txt',
      build: null,
      start: 'python main.py',
    });
    expect(await commands(custom)).toEqual({
      install: 'pip install -r requirements.txt',
      build: null,
      run: { framework: 'NODE', startCommand: 'python main.py', staticDirectory: null },
    });
    expect(await (await detectApp(dir, none)).resolveRun()).toBeNull();
    expect(CANNOT_TELL).toMatch(/add a "start" script to package.json/);
  });

  it('names package.json when it cannot be read', async () => {
    for (const [content, message] of [
      ['{ "scripts": ', /package\.json is not valid JSON/],
      ['[1, 2]', /package\.json must hold a JSON object/],
      ['{ "scripts": "npm start" }', /"scripts" field of package\.json must be an object/],
    ] as const) {
      const dir = await app({ 'package.json': content });
      const error = await detectApp(dir, none).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StepFailure);
      expect((error as StepFailure).step).toBe('INSTALL');
      expect((error as StepFailure).message).toMatch(message);
    }
  });

  it('tries detectors in order, so another language is one more detector', async () => {
    const python: Detector = {
      name: 'python',
      async detect(appDir, overrides) {
        const { existsSync } = await import('node:fs');
        if (!existsSync(join(appDir, 'requirements.txt'))) return null;
        return {
          description: 'a Python app',
          install: overrides.install ?? 'pip install -r requirements.txt',
          build: overrides.build,
          resolveRun: async () => ({
            framework: 'NODE',
            startCommand: 'python app.py',
            staticDirectory: null,
          }),
        };
      },
    };
    const dir = await app({ 'requirements.txt': 'flask', 'index.html': 'docs' });
    expect((await detectApp(dir, none, [python])).description).toBe('a Python app');
    expect((await detectApp(dir, none)).description).toBe('a static site');
  });
});

describe('shellQuote', () => {
  it('quotes what the shell would otherwise read', () => {
    expect(shellQuote('dist/server.js')).toBe('dist/server.js');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's; rm -rf /")).toBe(`'it'\\''s; rm -rf /'`);
    expect(shellQuote('$(id)')).toBe("'$(id)'");
  });
});
