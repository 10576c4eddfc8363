/**
 * Checks on what a user gives us about their source: the repository URL, the ref and the root
 * directory. The GraphQL layer uses them to refuse bad input with a clear message; a runtime runs
 * them again before handing anything to git or the file system, since these strings end up as
 * arguments of commands and as paths on the server.
 */

export type SourceUrlResult = { ok: true; url: string } | { ok: false; message: string };
export type RootDirectoryResult = { ok: true; path: string } | { ok: false; message: string };

const MAX_URL_LENGTH = 2048;
const MAX_REF_LENGTH = 255;
const MAX_ROOT_DIRECTORY_LENGTH = 255;

const EXAMPLE = 'such as https://github.com/owner/repo.git or git@github.com:owner/repo.git';
const LOCAL_REFUSED = 'Repositories on the server’s own disk (file:// URLs and paths) are not allowed here.';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const WHITESPACE = /\s/;
// Git hands `<transport>::<address>` to a helper program (`ext::` runs any command), and decides
// so with this very rule (transport.c): letters, digits, '+', '-', '.' then '::'.
const TRANSPORT_HELPER = /^[A-Za-z0-9+.-]*::/;
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
// `user@host:path`, as ssh and git write it; the user part keeps it from matching `c:path`.
const SCP_LIKE = /^([A-Za-z0-9._~+-]+)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(.+)$/;

/** Whether `url` is a repository URL git may clone from, as the user gave it. */
export function parseSourceUrl(url: string, options: { allowLocal: boolean }): SourceUrlResult {
  if (url.length === 0) return invalid(`Enter the URL of a git repository, ${EXAMPLE}.`);
  if (url.length > MAX_URL_LENGTH)
    return invalid(`The repository URL is longer than ${MAX_URL_LENGTH} characters.`);
  if (CONTROL_CHARACTERS.test(url) || WHITESPACE.test(url)) {
    return invalid('The repository URL must not contain spaces or control characters.');
  }
  if (url.startsWith('-')) return invalid(`The repository URL must not start with '-'.`);
  if (TRANSPORT_HELPER.test(url)) {
    return invalid(`The repository URL must use https://, http://, ssh:// or git://, ${EXAMPLE}.`);
  }

  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) return parseSchemeUrl(url, scheme, options);

  if (url.startsWith('/')) {
    if (!options.allowLocal) return invalid(LOCAL_REFUSED);
    return url.split('/').includes('..')
      ? invalid(`The repository path must not contain '..'.`)
      : { ok: true, url };
  }

  const scp = SCP_LIKE.exec(url);
  if (scp) {
    const [, user, host, path] = scp as unknown as [string, string, string, string];
    // ssh reads an argument starting with '-' as an option (`-oProxyCommand=…`).
    if (user.startsWith('-') || host.startsWith('-') || path.startsWith('-')) {
      return invalid(`The repository URL's user, host and path must not start with '-'.`);
    }
    return { ok: true, url };
  }

  return invalid(`Enter the URL of a git repository, ${EXAMPLE}.`);
}

function parseSchemeUrl(url: string, scheme: string, options: { allowLocal: boolean }): SourceUrlResult {
  if (scheme === 'file') {
    if (!options.allowLocal) return invalid(LOCAL_REFUSED);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return invalid('The repository URL is not a valid URL.');
    }
    if (parsed.hostname !== '' && parsed.hostname !== 'localhost') {
      return invalid('A file:// repository URL must name a path on this server, as in file:///srv/repo.git.');
    }
    return { ok: true, url };
  }
  if (!['https', 'http', 'ssh', 'git'].includes(scheme)) {
    return invalid(`The repository URL must use https://, http://, ssh:// or git://, ${EXAMPLE}.`);
  }
  // URL parsing would read https:///owner/repo as host 'owner'; git would not.
  if (url.slice(scheme.length + 3).startsWith('/')) return invalid('The repository URL has no host.');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return invalid('The repository URL is not a valid URL.');
  }
  if (parsed.hostname === '') return invalid('The repository URL has no host.');
  if (parsed.hostname.startsWith('-') || parsed.username.startsWith('-')) {
    return invalid(`The repository URL's user and host must not start with '-'.`);
  }
  if (parsed.pathname === '' || parsed.pathname === '/') return invalid('The repository URL has no path.');
  return { ok: true, url };
}

/**
 * Whether `ref` is a branch name, tag name or commit SHA that is safe to pass to git: the rules
 * of `git check-ref-format`, a little stricter (no component may start with '.').
 */
export function isSafeRef(ref: string): boolean {
  if (ref.length === 0 || ref.length > MAX_REF_LENGTH) return false;
  if (ref.startsWith('-') || ref.startsWith('/')) return false;
  if (ref === '@' || ref.includes('..') || ref.includes('@{') || ref.includes('//')) return false;
  if (CONTROL_CHARACTERS.test(ref) || /[\s~^:?*[\\]/.test(ref)) return false;
  if (ref.endsWith('/') || ref.endsWith('.') || ref.endsWith('.lock')) return false;
  return ref.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.lock'));
}

/**
 * The root directory of the app inside its source as a clean relative path ('' for the root), or
 * why it cannot be one. Only the shape is checked here; whether it exists is the build's concern.
 */
export function normalizeRootDirectory(dir: string): RootDirectoryResult {
  if (dir.length > MAX_ROOT_DIRECTORY_LENGTH) {
    return invalid(`The root directory is longer than ${MAX_ROOT_DIRECTORY_LENGTH} characters.`);
  }
  if (CONTROL_CHARACTERS.test(dir)) return invalid('The root directory must not contain control characters.');
  if (dir.includes('\\')) return invalid(`The root directory must use '/' between folders, not '\\'.`);
  if (dir.startsWith('/') || /^[A-Za-z]:/.test(dir)) {
    return invalid('The root directory must be a path relative to the repository, such as apps/web.');
  }
  const parts = dir.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) return invalid(`The root directory must not contain '..'.`);
  return { ok: true, path: parts.join('/') };
}

/** The URL with any password or token in it replaced by `***`, for logs and messages. */
export function redactSourceUrl(url: string): string {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') return url.replace(/^([^:]+:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
    // Over http(s), a user without a password is usually a token (https://<token>@github.com/…);
    // over ssh it is a login name (ssh://git@…), nothing secret.
    if (parsed.username !== '' && (scheme === 'https' || scheme === 'http')) {
      return url.replace(/^([^:]+:\/\/)[^@/]*@/, '$1***@');
    }
    return url;
  } catch {
    return url;
  }
}

function invalid(message: string): { ok: false; message: string } {
  return { ok: false, message };
}
