import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnvironment } from '../../../../test/support/environment';
import { ledgerEntries, ProcessLedger } from './ledger';
import { createLocalRuntime } from './local-runtime';
import { groupAlive, spawnGroup } from './processes';
import { get, makeTarball, recordingHooks, silentLogger } from './testing';

const repositoryRoot = resolve(import.meta.dirname, '../../../..');
const localRuntime = fileURLToPath(new URL('./local-runtime.ts', import.meta.url));
const testing = fileURLToPath(new URL('./testing.ts', import.meta.url));

/**
 * Construct killed without a goodbye: what it ran (a build, an app) must not live on beside what
 * the next Construct on the same folder starts.
 */
describe('processes left by a Construct that died', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'construct-ledger-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('are killed by the next runtime on the same folder', async () => {
    const rootDir = join(dir, 'runtime');
    const archivePath = join(dir, 'site.tar.gz');
    await writeFile(archivePath, makeTarball([{ path: 'index.html', body: '<h1>orphan?</h1>' }]));
    // A Construct of its own: builds and starts a site and a long build, says where, then waits.
    const script = join(dir, 'construct.mts');
    await writeFile(
      script,
      `
      import { createLocalRuntime } from ${JSON.stringify(localRuntime)};
      import { silentLogger } from ${JSON.stringify(testing)};
      const runtime = createLocalRuntime({ rootDir: ${JSON.stringify(rootDir)}, logger: silentLogger, allowLocalSources: false });
      const timeouts = { sourceMs: 10000, installMs: 10000, buildMs: 60000, startMs: 5000, healthcheckMs: 5000 };
      const hooks = { signal: new AbortController().signal, log: (type, stream, line) => console.log(line), step: (_step, run) => run() };
      const source = { kind: 'upload', archivePath: ${JSON.stringify(archivePath)} };
      const build = await runtime.build({ deploymentId: 'dpl-site', source, rootDirectory: '', commands: { install: null, build: null, start: null }, env: {}, timeouts }, hooks);
      const instance = await runtime.start({ deploymentId: 'dpl-site', build, env: {}, healthcheckPath: '/', timeouts }, hooks);
      console.log('target ' + instance.target);
      void runtime.build({ deploymentId: 'dpl-build', source, rootDirectory: '', commands: { install: null, build: 'echo "group $$"; sleep 60', start: null }, env: {}, timeouts }, hooks);
      `,
    );
    const lines: string[] = [];
    const construct = spawnGroup(process.execPath, ['--import', 'tsx', script], {
      cwd: repositoryRoot,
      env: { PATH: testEnvironment.path },
      onLine: (_stream, line) => lines.push(line),
    });
    try {
      await expect
        .poll(() => lines.some((l) => l.startsWith('group ')) || construct.status !== null, {
          timeout: 20_000,
        })
        .toBe(true);
      expect(construct.status, lines.join('\n')).toBeNull();
    } finally {
      if (construct.status === null) process.kill(construct.pid!, 'SIGKILL');
    }
    await construct.exited;
    const target = lines.find((l) => l.startsWith('target '))!.slice(7);
    const buildGroup = Number(lines.find((l) => l.startsWith('group '))!.slice(6));

    // SIGKILL leaves no chance to clean up: the app and the build live on.
    expect((await get(target, '/')).body).toBe('<h1>orphan?</h1>');
    expect(groupAlive(buildGroup)).toBe(true);

    const next = createLocalRuntime({
      rootDir,
      logger: silentLogger,
      allowLocalSources: false,
      killGraceMs: 500,
    });
    try {
      expect(await next.hasBuild('dpl-site')).toBe(true);
      // Its first call waits until the leftovers are gone.
      await next.remove('dpl-build');
      await expect(get(target, '/')).rejects.toThrow(/ECONNREFUSED/);
      expect(groupAlive(buildGroup)).toBe(false);
      expect(ledgerEntries(join(rootDir, 'processes'))).toEqual([]);
    } finally {
      await next.close();
    }
  });

  it('are left alone while the Construct that started them runs, and when no longer ours', async () => {
    const ledgerDir = join(dir, 'alive');
    const ledger = new ProcessLedger(ledgerDir);
    const mine = spawnGroup('/bin/sh', ['-c', 'sleep 30'], { cwd: dir, env: {}, ledger });
    try {
      expect(ledgerEntries(ledgerDir)).toEqual([mine.pid]);
      // Same owner, still alive: not a leftover.
      expect(await new ProcessLedger(ledgerDir).reap(100)).toBe(0);
      expect(groupAlive(mine.pid!)).toBe(true);

      // An entry of a dead owner for a group that runs elsewhere (a reused id): not touched.
      await writeFile(
        join(ledgerDir, `${mine.pid}.json`),
        JSON.stringify({
          pgid: mine.pid,
          cwd: join(dir, 'elsewhere'),
          owner: { pid: 2 ** 22 + 1, startTime: '1' },
        }),
      );
      expect(await new ProcessLedger(ledgerDir).reap(100)).toBe(0);
      expect(groupAlive(mine.pid!)).toBe(true);
      expect(ledgerEntries(ledgerDir)).toEqual([]);
    } finally {
      await mine.kill(200);
    }
  });

  it('a runtime writes down only what runs, and forgets what ended', async () => {
    const rootDir = join(dir, 'forget');
    const runtime = createLocalRuntime({
      rootDir,
      logger: silentLogger,
      allowLocalSources: false,
      killGraceMs: 200,
    });
    const archivePath = join(dir, 'forget.tar.gz');
    await writeFile(archivePath, makeTarball([{ path: 'index.html', body: 'x' }]));
    const hooks = recordingHooks().hooks;
    const build = await runtime.build(
      {
        deploymentId: 'dpl-forget',
        source: { kind: 'upload', archivePath },
        rootDirectory: '',
        commands: { install: 'true', build: 'true', start: null },
        env: {},
        timeouts: { sourceMs: 5000, installMs: 5000, buildMs: 5000, startMs: 5000, healthcheckMs: 5000 },
      },
      hooks,
    );
    expect(ledgerEntries(join(rootDir, 'processes'))).toEqual([]);
    await runtime.start(
      {
        deploymentId: 'dpl-forget',
        build,
        env: {},
        healthcheckPath: '/',
        timeouts: { startMs: 5000, healthcheckMs: 5000 },
      },
      hooks,
    );
    expect(ledgerEntries(join(rootDir, 'processes'))).toHaveLength(1);
    await runtime.close();
    expect(ledgerEntries(join(rootDir, 'processes'))).toEqual([]);
  });
});
