import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { testEnvironment } from './environment';

const run = promisify(execFile);

/** The sample apps of test/fixtures/apps, by folder name. */
export const fixturesDir = resolve(import.meta.dirname, '../fixtures/apps');

export interface GitRepository {
  /** The repository's folder (a work tree with its .git). */
  path: string;
  /** A file:// URL of it, as a user would give a remote. */
  url: string;
  branch: string;
  /** The commit the branch points at (the last one). */
  sha: string;
  /** Every commit, oldest first: the fixture's, then one per `extraCommits` entry. */
  shas: string[];
  /** Deletes the repository. */
  cleanup(): Promise<void>;
}

export interface GitRepositoryOptions {
  /** The branch the commits go to; 'main' by default. */
  branch?: string;
  /** Later commits, each a set of files (path → content) written over the fixture's. */
  extraCommits?: Record<string, string>[];
  /** Tags put on the last commit. */
  tags?: string[];
}

/**
 * A throwaway git repository holding one of the sample apps, in a temporary folder. Fixtures
 * are plain folders in this repository; they become repositories only here, so tests clone
 * real repositories without any network.
 */
export async function createGitRepository(
  fixtureName: string,
  options: GitRepositoryOptions = {},
): Promise<GitRepository> {
  const branch = options.branch ?? 'main';
  const path = await mkdtemp(join(tmpdir(), `construct-repo-${fixtureName}-`));
  await cp(join(fixturesDir, fixtureName), path, { recursive: true });

  await git(path, ['init', '--quiet', '--initial-branch', branch]);
  const shas = [await commit(path, `Add ${fixtureName}`)];
  for (const [index, files] of (options.extraCommits ?? []).entries()) {
    for (const [file, content] of Object.entries(files)) {
      await mkdir(dirname(join(path, file)), { recursive: true });
      await writeFile(join(path, file), content);
    }
    shas.push(await commit(path, `Change ${index + 1}`));
  }
  for (const tag of options.tags ?? []) await git(path, ['tag', tag]);

  return {
    path,
    url: pathToFileURL(path).href,
    branch,
    sha: shas.at(-1)!,
    shas,
    cleanup: () => rm(path, { recursive: true, force: true }),
  };
}

async function commit(path: string, message: string): Promise<string> {
  await git(path, ['add', '--all']);
  await git(path, ['commit', '--quiet', '--allow-empty', '-m', message]);
  return (await git(path, ['rev-parse', 'HEAD'])).trim();
}

/** Git as a test machine has it, minus the developer's own configuration (signing, hooks, name). */
export async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run(
    'git',
    [
      '-c',
      'user.name=Construct Tests',
      '-c',
      'user.email=tests@construct.invalid',
      '-c',
      'commit.gpgsign=false',
      ...args,
    ],
    {
      cwd,
      env: {
        PATH: testEnvironment.path,
        HOME: cwd,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
      },
    },
  );
  return stdout;
}
