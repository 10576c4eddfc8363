import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGitRepository, type GitRepository } from '../../../../test/support/git-fixtures';
import { Canceled, StepFailure } from '../runtime';
import { cloneRepository, extractArchive, resolveAppDirectory, type SourceContext } from './source';
import { makeTarball } from './testing';

let work: string;
let counter = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'construct-source-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A fresh, not yet existing source folder, and the progress lines written about it. */
async function context(extra: Partial<SourceContext> = {}): Promise<SourceContext & { lines: string[] }> {
  counter += 1;
  const gitHome = join(work, `home-${counter}`);
  await mkdir(gitHome);
  const lines: string[] = [];
  return {
    sourceDir: join(work, `source-${counter}`, 'source'),
    gitHome,
    allowLocal: true,
    signal: new AbortController().signal,
    timeoutMs: 20_000,
    log: (line) => lines.push(line),
    lines,
    ...extra,
  };
}

async function failure(promise: Promise<unknown>): Promise<StepFailure> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StepFailure);
  expect((error as StepFailure).step).toBe('SOURCE');
  return error as StepFailure;
}

describe('cloneRepository', () => {
  let repo: GitRepository;
  beforeAll(async () => {
    repo = await createGitRepository('node-server', {
      branch: 'trunk',
      extraCommits: [{ 'CHANGELOG.md': 'v2\n' }],
      tags: ['v2.0.0'],
    });
  });
  afterAll(() => repo.cleanup());

  it('clones a branch and reports its commit', async () => {
    const ctx = await context();
    await expect(cloneRepository(repo.url, 'trunk', ctx)).resolves.toBe(repo.sha);
    expect(await readFile(join(ctx.sourceDir, 'CHANGELOG.md'), 'utf8')).toBe('v2\n');
    expect(ctx.lines[0]).toBe(`Cloning ${repo.url} (ref trunk)`);
    expect(ctx.lines.at(-1)).toMatch(new RegExp(`^Checked out commit ${repo.sha.slice(0, 7)} in `));
  });

  it('clones a tag, and a plain path to a repository', async () => {
    await expect(cloneRepository(repo.url, 'v2.0.0', await context())).resolves.toBe(repo.sha);
    await expect(cloneRepository(repo.path, 'refs/heads/trunk', await context())).resolves.toBe(repo.sha);
  });

  it('checks out an older commit by its full SHA', async () => {
    const ctx = await context();
    await expect(cloneRepository(repo.url, repo.shas[0]!, ctx)).resolves.toBe(repo.shas[0]);
    expect(existsSync(join(ctx.sourceDir, 'CHANGELOG.md'))).toBe(false);
    expect(existsSync(join(ctx.sourceDir, 'server.js'))).toBe(true);
  });

  it('says when the branch or tag does not exist', async () => {
    const error = await failure(cloneRepository(repo.url, 'main', await context()));
    expect(error.message).toBe("The repository has no branch or tag named 'main'.");
  });

  it('says to give a full SHA when a short one is given', async () => {
    const error = await failure(cloneRepository(repo.url, repo.sha.slice(0, 7), await context()));
    expect(error.message).toBe(
      `The repository has no branch or tag named '${repo.sha.slice(0, 7)}'. To deploy a commit, give its full 40-character SHA.`,
    );
  });

  it('says when the commit does not exist', async () => {
    const sha = 'deadbeef'.repeat(5);
    const error = await failure(cloneRepository(repo.url, sha, await context()));
    expect(error.message).toBe(`Commit ${sha} was not found in the repository.`);
  });

  it('says when the repository cannot be read, with git’s reason', async () => {
    const missing = join(work, 'no-such-repo');
    const error = await failure(cloneRepository(`file://${missing}`, 'main', await context()));
    expect(error.message).toMatch(
      new RegExp(
        `^Could not read the repository at file://${missing}: '${missing}' does not appear to be a git repository`,
      ),
    );
  });

  it('refuses local repositories unless allowed, and unsafe refs, before running git', async () => {
    const local = await failure(cloneRepository(repo.url, 'trunk', await context({ allowLocal: false })));
    expect(local.message).toMatch(/not allowed here/);
    const ctx = await context();
    const ref = await failure(cloneRepository(repo.url, '--upload-pack=touch pwned', ctx));
    expect(ref.message).toMatch(/is not a valid branch, tag or commit/);
    expect(ctx.lines).toEqual([]);
    const url = await failure(cloneRepository('ext::sh -c touch% pwned', 'trunk', await context()));
    expect(url.message).toMatch(/spaces/);
  });

  it('stops when canceled', async () => {
    const controller = new AbortController();
    const canceled = new Canceled();
    controller.abort(canceled);
    await expect(
      cloneRepository(repo.url, 'trunk', await context({ signal: controller.signal })),
    ).rejects.toBe(canceled);
  });
});

describe('extractArchive', () => {
  async function extract(
    entries: Parameters<typeof makeTarball>[0],
    limits?: Parameters<typeof extractArchive>[2],
  ) {
    const ctx = await context();
    const archive = join(work, `archive-${counter}.tar.gz`);
    await writeFile(archive, makeTarball(entries));
    const result = extractArchive(archive, ctx, limits);
    return { ctx, result, root: join(ctx.sourceDir, '..') };
  }

  it('unpacks files and folders', async () => {
    const { ctx, result } = await extract([
      { path: 'app/', type: 'Directory' },
      { path: 'app/index.html', body: '<h1>hi</h1>' },
      { path: 'run.sh', body: '#!/bin/sh\necho hi\n', mode: 0o755 },
    ]);
    await result;
    expect(await readFile(join(ctx.sourceDir, 'app/index.html'), 'utf8')).toBe('<h1>hi</h1>');
    expect((await lstat(join(ctx.sourceDir, 'run.sh'))).mode & 0o777).toBe(0o755);
    expect(ctx.lines.at(-1)).toMatch(/^Unpacked the archive in /);
  });

  it('writes nothing outside the folder and no links, whatever the archive says', async () => {
    const outside = join(work, 'outside');
    await mkdir(outside, { recursive: true });
    const { ctx, result, root } = await extract([
      { path: 'index.html', body: 'ok' },
      { path: '../escape.txt', body: 'escaped' },
      { path: 'a/../../escape2.txt', body: 'escaped' },
      { path: `${outside}/absolute.txt`, body: 'absolute' },
      { path: 'link-out', type: 'SymbolicLink', linkpath: outside },
      { path: 'link-out/through-link.txt', body: 'through' },
      { path: 'passwd', type: 'Link', linkpath: '/etc/passwd' },
      { path: 'device', type: 'CharacterDevice' },
    ]);
    await result;
    expect(await readdir(outside)).toEqual([]);
    expect(await readdir(root)).toEqual(['source']);
    expect(existsSync(join(work, 'escape.txt'))).toBe(false);
    expect(existsSync(join(work, 'escape2.txt'))).toBe(false);
    const entries = await readdir(ctx.sourceDir, { recursive: true, withFileTypes: true });
    for (const entry of entries) expect(entry.isFile() || entry.isDirectory()).toBe(true);
    expect(ctx.lines.join('\n')).toMatch(/Skipped link-out: symbolic links are not unpacked/);
    expect(ctx.lines.join('\n')).toMatch(/Skipped passwd: hard links are not unpacked/);
    expect(ctx.lines).toContain("Skipped ../escape.txt: path contains '..'.");
  });

  it('refuses archives beyond the limits', async () => {
    const many = await extract(
      Array.from({ length: 5 }, (_, i) => ({ path: `f${i}.txt`, body: 'x' })),
      { maxEntries: 3, maxBytes: 1_000_000 },
    );
    expect((await failure(many.result)).message).toBe(
      'The uploaded archive holds more than 3 files and folders.',
    );

    const big = await extract([{ path: 'big.txt', body: 'x'.repeat(3 * 1024 * 1024) }], {
      maxEntries: 100,
      maxBytes: 2 * 1024 * 1024,
    });
    expect((await failure(big.result)).message).toBe('The uploaded archive unpacks to more than 2 MB.');
  });

  it('says when the archive is not a readable .tar.gz', async () => {
    for (const content of [
      Buffer.from('not an archive at all, just text'),
      makeTarball([{ path: 'a', body: 'x' }]).subarray(0, 30),
    ]) {
      const ctx = await context();
      const archive = join(work, `corrupt-${counter}.tar.gz`);
      await writeFile(archive, content);
      const error = await failure(extractArchive(archive, ctx));
      expect(error.message).toMatch(/^The uploaded archive could not be read: /);
    }
  });
});

describe('resolveAppDirectory', () => {
  let source: string;
  beforeAll(async () => {
    source = join(work, 'resolve', 'source');
    await mkdir(join(source, 'apps', 'web'), { recursive: true });
    await writeFile(join(source, 'README.md'), 'readme');
    await symlink(tmpdir(), join(source, 'escape'));
    await symlink(join(source, 'apps', 'web'), join(source, 'web-link'));
  });

  it('finds the root and folders inside the source, links inside it included', async () => {
    const { realpath } = await import('node:fs/promises');
    const real = await realpath(source);
    expect(await resolveAppDirectory(source, '')).toBe(real);
    expect(await resolveAppDirectory(source, './apps/web/')).toBe(join(real, 'apps', 'web'));
    expect(await resolveAppDirectory(source, 'web-link')).toBe(join(real, 'apps', 'web'));
  });

  it.each([
    ['escape', "The root directory 'escape' leads outside the source through a symbolic link."],
    ['apps/missing', "The root directory 'apps/missing' does not exist in the source."],
    ['README.md', "The root directory 'README.md' is a file, not a folder."],
    ['../resolve', "The root directory must not contain '..'."],
  ])('refuses %s', async (rootDirectory, message) => {
    expect((await failure(resolveAppDirectory(source, rootDirectory))).message).toBe(message);
  });
});
