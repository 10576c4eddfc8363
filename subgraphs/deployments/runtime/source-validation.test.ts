import { describe, expect, it } from 'vitest';
import { isSafeRef, normalizeRootDirectory, parseSourceUrl, redactSourceUrl } from './source-validation';

const remote = { allowLocal: false };
const local = { allowLocal: true };

describe('parseSourceUrl', () => {
  it.each([
    'https://github.com/owner/repo.git',
    'https://github.com/owner/repo',
    'http://git.internal:8080/team/app.git',
    'ssh://git@github.com/owner/repo.git',
    'ssh://git@gitlab.example.com:2222/group/sub/repo.git',
    'git://example.com/repo.git',
    'git@github.com:owner/repo.git',
    'deploy@[2001:db8::1]:repos/app.git',
    'https://x-access-token:ghs_abc@github.com/owner/repo.git',
    'https://[::1]:3000/repo.git',
  ])('accepts %s', (url) => {
    expect(parseSourceUrl(url, remote)).toEqual({ ok: true, url });
  });

  it.each([
    ['', /Enter the URL/],
    ['github.com/owner/repo', /Enter the URL/],
    ['./repo', /Enter the URL/],
    ['repo', /Enter the URL/],
    ['-uhttps://evil', /must not start with '-'/],
    ['--upload-pack=touch /tmp/pwned', /spaces|must not start/],
    ['ext::sh -c touch% /tmp/pwned', /spaces/],
    ['ext::sh', /must use https/],
    ['fd::17', /must use https/],
    ['https::github.com/owner/repo', /must use https/],
    ['ftp://example.com/repo.git', /must use https/],
    ['git+ssh://git@github.com/owner/repo.git', /must use https/],
    ['https://github.com/owner/repo.git\n', /spaces or control/],
    ['https://github.com/owner /repo.git', /spaces or control/],
    ['https://github.com/owner/\u0007repo.git', /spaces or control/],
    ['https://github.com', /no path/],
    ['https:///owner/repo', /no host/],
    ['ssh://-oProxyCommand=touch%20x/repo', /must not start with '-'/],
    ['-oProxyCommand=x@host:path', /must not start with '-'/],
    ['git@-oProxyCommand=x:path', /must not start with '-'|Enter the URL/],
    ['git@-host:path', /must not start with '-'/],
    ['git@host:-path', /must not start with '-'/],
    [`https://example.com/${'a'.repeat(2100)}`, /longer than/],
  ])('refuses %j', (url, message) => {
    const result = parseSourceUrl(url, remote);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });

  it('accepts repositories on this machine only when local sources are allowed', () => {
    for (const url of ['file:///srv/repos/app.git', 'file://localhost/srv/app', '/srv/repos/app.git']) {
      expect(parseSourceUrl(url, local)).toEqual({ ok: true, url });
      const refused = parseSourceUrl(url, remote);
      expect(refused).toEqual({ ok: false, message: expect.stringMatching(/not allowed here/) });
    }
  });

  it('refuses file:// URLs naming another host, and paths with ..', () => {
    expect(parseSourceUrl('file://other-host/srv/app', local).ok).toBe(false);
    expect(parseSourceUrl('/srv/../etc', local).ok).toBe(false);
  });
});

describe('isSafeRef', () => {
  it.each([
    'main',
    'feature/login-form',
    'release-1.2',
    'v1.2.3',
    'refs/heads/main',
    'user/feat_x',
    'a'.repeat(255),
    '0123456789abcdef0123456789abcdef01234567',
    'abc1234',
  ])('accepts %s', (ref) => {
    expect(isSafeRef(ref)).toBe(true);
  });

  it.each([
    '',
    '-b',
    '--upload-pack=x',
    'a..b',
    'main@{1}',
    '@',
    'with space',
    'tab\there',
    'line\nbreak',
    'nul\u0000',
    'tilde~1',
    'caret^',
    'colon:x',
    'what?',
    'star*',
    'bracket[',
    'back\\slash',
    'ends/',
    'ends.',
    'branch.lock',
    'dir.lock/x',
    '/leading',
    'double//slash',
    '.hidden',
    'dir/.hidden',
    'a'.repeat(256),
  ])('refuses %j', (ref) => {
    expect(isSafeRef(ref)).toBe(false);
  });
});

describe('normalizeRootDirectory', () => {
  it.each([
    ['', ''],
    ['.', ''],
    ['./', ''],
    ['apps/web', 'apps/web'],
    ['apps/web/', 'apps/web'],
    ['./apps//web/.', 'apps/web'],
    ['my app', 'my app'],
  ])('normalizes %j to %j', (input, path) => {
    expect(normalizeRootDirectory(input)).toEqual({ ok: true, path });
  });

  it.each([
    ['..', /'\.\.'/],
    ['apps/../..', /'\.\.'/],
    ['apps/..', /'\.\.'/],
    ['/etc', /relative/],
    ['C:/Users', /relative/],
    ['apps\\web', /'\/'/],
    ['apps/\u0000web', /control/],
    ['a'.repeat(256), /longer than 255/],
  ])('refuses %j', (input, message) => {
    const result = normalizeRootDirectory(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('redactSourceUrl', () => {
  it('hides passwords and tokens, keeps ssh users', () => {
    expect(redactSourceUrl('https://x-access-token:ghs_secret@github.com/o/r.git')).toBe(
      'https://x-access-token:***@github.com/o/r.git',
    );
    expect(redactSourceUrl('https://ghp_secret@github.com/o/r.git')).toBe('https://***@github.com/o/r.git');
    expect(redactSourceUrl('ssh://git@github.com/o/r.git')).toBe('ssh://git@github.com/o/r.git');
    expect(redactSourceUrl('git@github.com:o/r.git')).toBe('git@github.com:o/r.git');
    expect(redactSourceUrl('https://github.com/o/r.git')).toBe('https://github.com/o/r.git');
  });
});
