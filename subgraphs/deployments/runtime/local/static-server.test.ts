import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../../common/net';
import { waitForPort } from './healthcheck';
import { type ProcessGroup, spawnGroup } from './processes';
import { get } from './testing';

const server = fileURLToPath(new URL('./static-server.mjs', import.meta.url));

describe('static-server.mjs', () => {
  let dir: string;
  let group: ProcessGroup;
  let target: string;
  const output: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'construct-static-'));
    const site = join(dir, 'site');
    await mkdir(join(site, 'docs'), { recursive: true });
    await mkdir(join(site, '.git'));
    await writeFile(join(site, 'index.html'), '<h1>Home</h1>');
    await writeFile(join(site, 'about.html'), '<h1>About</h1>');
    await writeFile(join(site, 'style.css'), 'body { color: red }');
    await writeFile(join(site, 'app.3f9a1c2b.js'), 'console.log(1)');
    await writeFile(join(site, 'data.bin'), Buffer.from([0, 1, 2]));
    await writeFile(join(site, 'large.bin'), Buffer.alloc(32 * 1024 * 1024));
    await writeFile(join(site, 'docs', 'index.html'), '<h1>Docs</h1>');
    await writeFile(join(site, '404.html'), '<h1>Nothing here</h1>');
    await writeFile(join(site, '.env'), 'SECRET=dotfile');
    await writeFile(join(site, '.git', 'config'), '[remote] url = https://token@example.com');
    await writeFile(join(dir, 'secret.txt'), 'SECRET=outside');
    await symlink(join(dir, 'secret.txt'), join(site, 'linked-secret.txt'));
    await symlink(dir, join(site, 'linked-dir'));

    const port = await findFreePort();
    group = spawnGroup(process.execPath, [server, site], {
      cwd: dir,
      env: { PORT: String(port) },
      onLine: (_stream, line) => output.push(line),
    });
    const ready = await waitForPort(port, {
      timeoutMs: 5000,
      signal: new AbortController().signal,
      exited: group.exited,
    });
    expect(ready.kind).toBe('listening');
    target = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await group?.kill(1000);
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html for / with HTML content type and no long-term caching', async () => {
    const res = await get(target, '/');
    expect(res.status).toBe(200);
    expect(res.body).toBe('<h1>Home</h1>');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=0, must-revalidate');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('gives each file its content type', async () => {
    expect((await get(target, '/style.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await get(target, '/app.3f9a1c2b.js')).headers['content-type']).toBe(
      'text/javascript; charset=utf-8',
    );
    expect((await get(target, '/data.bin')).headers['content-type']).toBe('application/octet-stream');
  });

  it('lets assets with a content hash be cached for good, other assets for an hour', async () => {
    expect((await get(target, '/app.3f9a1c2b.js')).headers['cache-control']).toBe(
      'public, max-age=31536000, immutable',
    );
    expect((await get(target, '/style.css')).headers['cache-control']).toBe(
      'public, max-age=3600, must-revalidate',
    );
  });

  it('serves a folder’s index.html, redirecting to the trailing slash first', async () => {
    const redirect = await get(target, '/docs?x=1');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/docs/?x=1');
    const docs = await get(target, '/docs/');
    expect(docs.status).toBe(200);
    expect(docs.body).toBe('<h1>Docs</h1>');
  });

  it('serves /about from about.html', async () => {
    const res = await get(target, '/about');
    expect(res.status).toBe(200);
    expect(res.body).toBe('<h1>About</h1>');
  });

  it('answers unknown paths with the site’s 404.html and a 404 status', async () => {
    const res = await get(target, '/missing/page');
    expect(res.status).toBe(404);
    expect(res.body).toBe('<h1>Nothing here</h1>');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await get(target, '/style.css', 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String('body { color: red }'.length));
    expect(res.body).toBe('');
  });

  it('answers 304 when the ETag still matches', async () => {
    const first = await get(target, '/style.css');
    const etag = String(first.headers.etag);
    const again = await get(target, '/style.css', 'GET', { 'If-None-Match': etag });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
  });

  it('refuses other methods', async () => {
    const res = await get(target, '/', 'POST');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
  });

  it.each([
    '/../secret.txt',
    '/docs/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/..%2fsecret.txt',
    '/docs/..%2f..%2fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%5csecret.txt',
    '/linked-secret.txt',
    '/linked-dir/secret.txt',
    '/.env',
    '/.git/config',
    '/%00',
    '/%E0%A4%A',
  ])('never serves what lies outside the site or is hidden: %s', async (path) => {
    const res = await get(target, path);
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('SECRET');
    expect(res.body).not.toContain('token');
  });

  it('logs one line per request', async () => {
    await get(target, '/style.css');
    await expect.poll(() => output).toContain('GET /style.css 200');
  });

  it('logs a request whose client hung up before the whole file was sent', async () => {
    const url = new URL(target);
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: '/large.bin', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      req.end();
    });
    await expect.poll(() => output).toContain('GET /large.bin 200 (the client went away)');
  });
});
