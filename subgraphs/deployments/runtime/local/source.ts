import { createReadStream } from 'node:fs';
import { mkdir, realpath, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { type ReadEntry, Unpack } from 'tar';
import { machinePath } from '../../../common/config';
import { StepFailure } from '../runtime';
import { isSafeRef, normalizeRootDirectory, parseSourceUrl, redactSourceUrl } from '../source-validation';
import { formatDuration, runProcess, type SpawnGroupOptions } from './processes';

export interface SourceContext {
  /** Where the source goes; must not exist yet. */
  sourceDir: string;
  /** A throwaway home for git, so no user's ~/.gitconfig or credential helper plays a part. */
  gitHome: string;
  allowLocal: boolean;
  signal: AbortSignal;
  timeoutMs: number;
  killGraceMs?: number;
  ledger?: SpawnGroupOptions['ledger'];
  /** A progress line for the build logs. */
  log(line: string): void;
}

const FULL_SHA = /^[0-9a-f]{40}$/i;

/**
 * Clones `ref` of the repository at `url` into `context.sourceDir` and says which commit that is.
 * Tells apart a repository that cannot be read from a ref that is not in it, since the user
 * fixes them in different places.
 */
export async function cloneRepository(url: string, ref: string, context: SourceContext): Promise<string> {
  const parsed = parseSourceUrl(url, { allowLocal: context.allowLocal });
  if (!parsed.ok) throw new StepFailure('SOURCE', parsed.message);
  if (!isSafeRef(ref)) throw new StepFailure('SOURCE', `'${ref}' is not a valid branch, tag or commit.`);

  const shown = redactSourceUrl(url);
  const git = new Git(url, shown, context);
  context.log(`Cloning ${shown} (ref ${ref})`);

  const refs = await git.run(['ls-remote', '--heads', '--tags', '--', url], 'read');
  const names = new Set(refs.stdout.map((line) => line.split('\t')[1]));
  const name = ref.replace(/^refs\/(heads|tags)\//, '');
  const isNamedRef = ref.startsWith('refs/')
    ? names.has(ref)
    : names.has(`refs/heads/${ref}`) || names.has(`refs/tags/${ref}`);

  if (isNamedRef) {
    await git.run(
      ['clone', '--quiet', '--depth', '1', '--branch', name, '--single-branch', '--', url, context.sourceDir],
      'read',
    );
  } else if (FULL_SHA.test(ref)) {
    await checkoutCommit(git, url, ref.toLowerCase(), context);
  } else {
    const hint = /^[0-9a-f]{7,39}$/i.test(ref) ? ' To deploy a commit, give its full 40-character SHA.' : '';
    throw new StepFailure('SOURCE', `The repository has no branch or tag named '${ref}'.${hint}`);
  }

  const head = await git.run(['-C', context.sourceDir, 'rev-parse', 'HEAD'], 'internal');
  const sha = head.stdout[0]?.trim() ?? '';
  if (!FULL_SHA.test(sha)) throw new Error(`git rev-parse HEAD printed "${sha}"`);
  context.log(`Checked out commit ${sha.slice(0, 7)} in ${formatDuration(git.elapsedMs())}`);
  return sha;
}

/**
 * Most hosts (GitHub, GitLab, git's own protocol v2) hand out any commit on its own, which
 * spares downloading the whole history; the others get a full clone.
 */
async function checkoutCommit(git: Git, url: string, sha: string, context: SourceContext): Promise<void> {
  await mkdir(context.sourceDir, { recursive: true });
  await git.run(['init', '--quiet', '--', context.sourceDir], 'internal');
  const shallow = await git.attempt([
    '-C',
    context.sourceDir,
    'fetch',
    '--quiet',
    '--depth',
    '1',
    '--no-tags',
    '--',
    url,
    sha,
  ]);
  if (shallow) {
    await git.run(['-C', context.sourceDir, 'checkout', '--quiet', '--detach', 'FETCH_HEAD'], 'internal');
    return;
  }
  await rm(context.sourceDir, { recursive: true, force: true });
  await git.run(['clone', '--quiet', '--no-checkout', '--', url, context.sourceDir], 'read');
  const present = await git.attempt(['-C', context.sourceDir, 'cat-file', '-e', `${sha}^{commit}`]);
  if (!present) throw new StepFailure('SOURCE', `Commit ${sha} was not found in the repository.`);
  await git.run(['-C', context.sourceDir, 'checkout', '--quiet', '--detach', sha], 'internal');
}

/** Runs git without a shell, within one deadline for the whole SOURCE step. */
class Git {
  readonly #started = Date.now();
  readonly #deadline: number;
  readonly #env: Record<string, string>;

  constructor(
    private readonly url: string,
    private readonly shownUrl: string,
    private readonly context: SourceContext,
  ) {
    this.#deadline = this.#started + context.timeoutMs;
    this.#env = {
      PATH: machinePath(),
      HOME: context.gitHome,
      GIT_TERMINAL_PROMPT: '0',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      // `file` lets a repository on the server's disk be cloned, so only where that is allowed.
      GIT_ALLOW_PROTOCOL: context.allowLocal ? 'https:http:ssh:git:file' : 'https:http:ssh:git',
      // ssh must fail rather than wait for a password or a host key confirmation nobody will type.
      GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
      LC_ALL: 'C',
    };
  }

  elapsedMs(): number {
    return Date.now() - this.#started;
  }

  /**
   * Runs git; a failure is the user's when `kind` is 'read' (the repository or the network), ours
   * when 'internal'.
   */
  async run(args: string[], kind: 'read' | 'internal'): Promise<{ stdout: string[] }> {
    const result = await this.#exec(args);
    if (result.ok) return result;
    if (kind === 'internal') throw new Error(`git ${args[0] ?? ''} failed: ${result.reason}`);
    throw new StepFailure('SOURCE', `Could not read the repository at ${this.shownUrl}: ${result.reason}`);
  }

  /** Runs git; false when it fails for any reason but a timeout or a cancel. */
  async attempt(args: string[]): Promise<boolean> {
    return (await this.#exec(args)).ok;
  }

  async #exec(args: string[]): Promise<{ ok: true; stdout: string[] } | { ok: false; reason: string }> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const result = await runProcess('git', args, {
      cwd: this.context.gitHome,
      env: this.#env,
      signal: this.context.signal,
      timeoutMs: Math.max(this.#deadline - Date.now(), 1),
      killGraceMs: this.context.killGraceMs,
      ledger: this.context.ledger,
      onLine: (stream, line) => (stream === 'STDOUT' ? stdout : stderr).push(line),
    });
    if (result.kind === 'timed-out') {
      throw new StepFailure(
        'SOURCE',
        `Cloning ${this.shownUrl} did not finish within ${formatDuration(this.context.timeoutMs)}.`,
      );
    }
    if (result.code === 0) return { ok: true, stdout };
    return { ok: false, reason: this.#reason(stderr, result.code) };
  }

  /** Git's own one-line reason ("repository 'https://…' not found"), without our paths in it. */
  #reason(stderr: string[], code: number | null): string {
    const lines = stderr.map((line) => line.trim()).filter((line) => line !== '');
    const line =
      lines.find((l) => /^(fatal|error):/.test(l)) ?? lines.at(-1) ?? `git exited with code ${code}`;
    return line
      .replace(/^(fatal|error):\s*/, '')
      .replaceAll(this.url, this.shownUrl)
      .replaceAll(this.context.sourceDir, 'the source folder');
  }
}

export interface ArchiveLimits {
  maxEntries: number;
  maxBytes: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxEntries: 20_000, maxBytes: 500 * 1024 * 1024 };

const EXTRACTED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);
const MAX_REPORTED_SKIPS = 20;

/**
 * Unpacks an uploaded .tar.gz into `context.sourceDir`: regular files and folders only, within
 * limits, nothing outside the folder. Links are skipped (one could point anywhere on the server),
 * and so are entries that try to climb out ('../x'); absolute paths land inside the folder.
 */
export async function extractArchive(
  archivePath: string,
  context: Pick<SourceContext, 'sourceDir' | 'signal' | 'log'>,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<void> {
  context.signal.throwIfAborted();
  await mkdir(context.sourceDir, { recursive: true });
  context.log('Unpacking the uploaded archive');
  const started = Date.now();
  let entries = 0;
  let bytes = 0;
  let limitExceeded: string | null = null;
  const skipped: string[] = [];

  const unpack = new Unpack({
    cwd: context.sourceDir,
    preserveOwner: false,
    // Modes come from the archive, but never setuid/setgid bits or write access for others.
    umask: 0o022,
    processUmask: 0o022,
    filter: (path, entry) => {
      const type = 'type' in entry ? (entry as ReadEntry).type : 'File';
      if (!EXTRACTED_TYPES.has(type)) {
        skipped.push(`Skipped ${path}: ${describeType(type)} are not unpacked.`);
        return false;
      }
      entries += 1;
      if (type !== 'Directory') bytes += entry.size ?? 0;
      if (entries > limits.maxEntries) {
        limitExceeded = `The uploaded archive holds more than ${limits.maxEntries.toLocaleString('en-US')} files and folders.`;
      } else if (bytes > limits.maxBytes) {
        limitExceeded = `The uploaded archive unpacks to more than ${Math.round(limits.maxBytes / 1024 / 1024)} MB.`;
      }
      if (limitExceeded) {
        unpack.abort(new Error(limitExceeded));
        return false;
      }
      return true;
    },
    onwarn: (code, message, data) => {
      const path = typeof data.path === 'string' ? data.path : 'an entry';
      skipped.push(code === 'TAR_ENTRY_INFO' ? `${path}: ${message}.` : `Skipped ${path}: ${message}.`);
    },
  });

  const onAbort = () => unpack.abort(new Error('canceled'));
  context.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      unpack.on('error', reject);
      unpack.on('close', resolve);
      const input = createReadStream(archivePath);
      input.on('error', reject);
      input.pipe(unpack);
    });
  } catch (error) {
    context.signal.throwIfAborted();
    if (limitExceeded) throw new StepFailure('SOURCE', limitExceeded);
    const reason = (error as Error).message.replace(/^TAR_[A-Z_]+:\s*/, '');
    throw new StepFailure('SOURCE', `The uploaded archive could not be read: ${reason}`);
  } finally {
    context.signal.removeEventListener('abort', onAbort);
  }

  for (const line of skipped.slice(0, MAX_REPORTED_SKIPS)) context.log(line);
  if (skipped.length > MAX_REPORTED_SKIPS) {
    context.log(`Skipped ${skipped.length - MAX_REPORTED_SKIPS} more entries.`);
  }
  context.log(`Unpacked the archive in ${formatDuration(Date.now() - started)}`);
}

function describeType(type: string): string {
  switch (type) {
    case 'SymbolicLink':
      return 'symbolic links';
    case 'Link':
      return 'hard links';
    case 'CharacterDevice':
    case 'BlockDevice':
      return 'devices';
    case 'FIFO':
      return 'named pipes';
    default:
      return `entries of type ${type}`;
  }
}

/**
 * The absolute, real path of the app inside the source. The root directory must be a folder of
 * the source, also once symbolic links are followed: a link to /etc would otherwise build
 * (and serve) the server's own files.
 */
export async function resolveAppDirectory(sourceDir: string, rootDirectory: string): Promise<string> {
  const normalized = normalizeRootDirectory(rootDirectory);
  if (!normalized.ok) throw new StepFailure('SOURCE', normalized.message);
  const source = await realpath(sourceDir);
  if (normalized.path === '') return source;

  const name = normalized.path;
  let real: string;
  try {
    real = await realpath(join(source, name));
  } catch {
    throw new StepFailure('SOURCE', `The root directory '${name}' does not exist in the source.`);
  }
  if (!real.startsWith(source + sep)) {
    throw new StepFailure(
      'SOURCE',
      `The root directory '${name}' leads outside the source through a symbolic link.`,
    );
  }
  if (!(await stat(real)).isDirectory()) {
    throw new StepFailure('SOURCE', `The root directory '${name}' is a file, not a folder.`);
  }
  return real;
}

/** `path` relative to `base`, with '/' whatever the platform, for manifests. */
export function relativePosix(base: string, path: string): string {
  return relative(base, path).split(sep).join('/');
}
