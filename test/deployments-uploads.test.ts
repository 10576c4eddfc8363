import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { create as createTar, Header } from 'tar';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DeploymentsClient, edgeRequest, type LogLine } from './support/deployments';
import { DEPLOYMENT_FIELDS, type DeploymentState, edgeGet } from './support/edge';
import { createOrganization, createUser } from './support/factories';
import { fixturesDir } from './support/git-fixtures';
import {
  startTestSupergraph,
  type TestSupergraph,
  USER_ERRORS,
  type UserErrorData,
} from './support/supergraph';

/**
 * Deploying a folder as a CLI does: ask for an upload URL, PUT a gzipped tarball to it, deploy
 * the upload. The URL is the only credential, so it works once, for its own upload, within its
 * size limit; the archive never puts anything outside the deployment's folder.
 */

const MAX_BYTES = 2048;

let supergraph: TestSupergraph;
let api: DeploymentsClient;
let runtimeDir: string;
const scratch: string[] = [];

beforeAll(async () => {
  // Ours, so the tests can look at what an archive wrote (and did not write) on the server's disk.
  runtimeDir = mkdtempSync(join(tmpdir(), 'construct-uploads-runtime-'));
  supergraph = await startTestSupergraph(
    {},
    {
      RUNTIME_DIR: runtimeDir,
      UPLOAD_MAX_BYTES: String(MAX_BYTES),
      BUILDS_PER_ORGANIZATION: '8',
      BUILD_CONCURRENCY: '8',
    },
  );
  const owner = await createUser(supergraph.databases, 'Uma Upload');
  const { id } = await createOrganization(supergraph.databases, [{ user: owner, role: 'OWNER' }]);
  api = new DeploymentsClient(supergraph, owner, id);
});

afterAll(async () => {
  await supergraph?.close();
  rmSync(runtimeDir, { recursive: true, force: true });
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

const nonce = () => randomBytes(4).toString('hex');
const messages = (lines: LogLine[]) => lines.map((line) => line.message);

interface UploadTicket {
  id: string;
  url: string;
  expiresAt: string;
  maxBytes: number;
}

/** An uploads-only project (no repository), as `construct deploy` of a local folder creates. */
function uploadProject() {
  return api.project(`upl-${nonce()}`, null);
}

async function createUpload(projectId: string): Promise<UploadTicket> {
  const result = await api.mutate<{ upload: UploadTicket | null; userErrors: UserErrorData[] }>(
    'createUpload',
    'CreateUploadInput',
    `upload { id url expiresAt maxBytes } ${USER_ERRORS}`,
    { projectId },
  );
  expect(result.userErrors).toEqual([]);
  return result.upload!;
}

function deployUpload(projectId: string, uploadId: string, environment?: string) {
  return api.mutate<{ deployment: DeploymentState | null; userErrors: UserErrorData[] }>(
    'createDeploymentFromUpload',
    'CreateDeploymentFromUploadInput',
    `deployment { ${DEPLOYMENT_FIELDS} } ${USER_ERRORS}`,
    { projectId, uploadId, ...(environment ? { environment } : {}) },
  );
}

async function put(url: string, body: Uint8Array | ReadableStream<Uint8Array>, method = 'PUT') {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/gzip' },
    body: method === 'GET' ? undefined : body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A .tar.gz of a folder's files, as the tar package (and so a CLI) writes it. */
async function tarball(dir: string, files: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createTar({ gzip: true, cwd: dir, portable: true }, files))
    chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The static-site fixture, archived. */
const staticSite = () => tarball(join(fixturesDir, 'static-site'), ['index.html', 'style.css']);

/**
 * A .tar.gz whose entries say whatever they like, as a hostile client would write it (the tar
 * package itself refuses to write some of these names).
 */
function rawTarball(
  entries: { path: string; content?: string; type?: 'File' | 'SymbolicLink'; linkpath?: string }[],
) {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const content = Buffer.from(entry.content ?? '');
    const header = new Header({
      path: entry.path,
      mode: 0o644,
      size: entry.type === 'SymbolicLink' ? 0 : content.length,
      type: entry.type ?? 'File',
      linkpath: entry.linkpath,
      mtime: new Date(),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (entry.type !== 'SymbolicLink' && content.length > 0) {
      blocks.push(content, Buffer.alloc((512 - (content.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

describe.concurrent('deploying an uploaded folder', () => {
  test('upload, deploy, READY: the static site is served with the right content types', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    expect(upload).toMatchObject({ id: expect.stringMatching(/^upl_[0-9A-Z]{26}$/), maxBytes: MAX_BYTES });
    expect(Date.parse(upload.expiresAt)).toBeGreaterThan(Date.now());

    const archive = await staticSite();
    expect(archive.length).toBeLessThan(MAX_BYTES);
    expect(await put(upload.url, archive)).toEqual({ status: 201, body: { status: 'received' } });

    const queued = await deployUpload(project.id, upload.id);
    expect(queued.userErrors).toEqual([]);
    const ready = await api.waitFor(queued.deployment!.id);
    expect(ready).toMatchObject({ status: 'READY', errorMessage: null, commitSha: null });
    const { body } = await api.query<{
      deployment: { sourceKind: string; ref: string | null; environment: { name: string } };
    }>('query ($id: ID!) { deployment(id: $id) { sourceKind ref environment { name } } }', { id: ready.id });
    // A folder from a laptop is a preview unless said otherwise: it never takes production by surprise.
    expect(body.data?.deployment).toEqual({
      sourceKind: 'UPLOAD',
      ref: null,
      environment: { name: 'preview' },
    });
    expect(ready.isProduction).toBe(false);

    const page = await edgeRequest(ready.url, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html\b/);
    expect(page.body).toContain('<h1>Hello from the static site</h1>');
    expect(page.headers['x-construct-deployment-id']).toBe(ready.id);
    const css = await edgeRequest(ready.url, '/style.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css\b/);
    expect(css.body).toContain('#123456');
    expect((await edgeGet(project.url)).status).toBe(404);
  });

  test('an upload deployed to production serves the production URL', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    expect((await put(upload.url, await staticSite())).status).toBe(201);
    const queued = await deployUpload(project.id, upload.id, 'production');
    expect(queued.userErrors).toEqual([]);
    const ready = await api.waitFor(queued.deployment!.id);
    expect(ready).toMatchObject({ status: 'READY', isProduction: true });
    expect(await edgeGet(project.url)).toMatchObject({ status: 200, deploymentId: ready.id });
  });

  test('an archive that is not a gzipped tarball fails at SOURCE, saying so', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    expect((await put(upload.url, Buffer.from('this is not an archive at all\n'))).status).toBe(201);
    const queued = await deployUpload(project.id, upload.id);
    const failed = await api.waitFor(queued.deployment!.id);
    expect(failed).toMatchObject({ status: 'ERROR', errorStep: 'SOURCE' });
    expect(failed.errorMessage).toMatch(/^The uploaded archive could not be read: /);
    expect(failed.events.map((event) => [event.step, event.outcome])).toEqual([['SOURCE', 'FAILED']]);
  });

  test('links and paths out of the folder in an archive are skipped, never written outside it', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    const outside = `/tmp/construct-upload-absolute-${nonce()}`;
    const archive = rawTarball([
      { path: 'index.html', content: '<!doctype html><h1>hostile archive</h1>\n' },
      { path: '../../escaped.txt', content: 'climbed out\n' },
      { path: outside, content: 'absolute\n' },
      { path: 'passwd.txt', type: 'SymbolicLink', linkpath: '/etc/passwd' },
      { path: '.env', content: 'API_KEY=from-the-laptop\n' },
    ]);
    expect((await put(upload.url, archive)).status).toBe(201);
    const queued = await deployUpload(project.id, upload.id);
    const ready = await api.waitFor(queued.deployment!.id);
    expect(ready.status).toBe('READY');

    expect(existsSync(join(runtimeDir, 'deployments', 'escaped.txt'))).toBe(false);
    expect(existsSync(join(runtimeDir, 'escaped.txt'))).toBe(false);
    expect(existsSync(outside)).toBe(false);
    const passwd = await edgeGet(ready.url, '/passwd.txt');
    expect(passwd.status).toBe(404);
    expect(passwd.body).not.toContain('root:');
    expect((await edgeGet(ready.url, '/')).body).toContain('hostile archive');

    const build = messages(await api.logs(ready.id, 'BUILD'));
    expect(build).toContain('Skipped passwd.txt: symbolic links are not unpacked.');
    expect(build).toContain("Skipped ../../escaped.txt: path contains '..'.");
    // Dotfiles unpack (a build may need them) but are never served: .env often holds secrets.
    expect((await edgeGet(ready.url, '/.env')).status).toBe(404);
  });

  test('a folder with a symbolic link in it, archived by the tar package, deploys without the link', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'construct-upload-src-'));
    scratch.push(dir);
    await cp(join(fixturesDir, 'static-site'), dir, { recursive: true });
    await symlink('/etc/hostname', join(dir, 'hostname.txt'));
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    expect(
      (await put(upload.url, await tarball(dir, ['index.html', 'style.css', 'hostname.txt']))).status,
    ).toBe(201);
    const ready = await api.waitFor((await deployUpload(project.id, upload.id)).deployment!.id);
    expect(ready.status).toBe('READY');
    expect((await edgeGet(ready.url, '/hostname.txt')).status).toBe(404);
  });
});

describe.concurrent('the upload URL is a one-time credential', () => {
  test('a second PUT to the same URL is 409, and the first archive is what deploys', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    expect((await put(upload.url, await staticSite())).status).toBe(201);
    const second = await put(upload.url, rawTarball([{ path: 'index.html', content: 'replaced!\n' }]));
    expect(second).toEqual({ status: 409, body: { error: expect.stringMatching(/already uploaded/) } });

    const ready = await api.waitFor((await deployUpload(project.id, upload.id)).deployment!.id);
    expect((await edgeGet(ready.url)).body).toContain('Hello from the static site');
  });

  test('a wrong token is 403 and does not use the URL up', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    const wrong = new URL(upload.url);
    wrong.searchParams.set('token', randomBytes(32).toString('base64url'));
    expect(await put(wrong.href, await staticSite())).toEqual({
      status: 403,
      body: { error: 'This upload URL is not valid (it may have expired).' },
    });
    wrong.searchParams.delete('token');
    expect((await put(wrong.href, await staticSite())).status).toBe(403);
    // Another upload's token does not open this one.
    const other = new URL((await createUpload(project.id)).url);
    wrong.searchParams.set('token', other.searchParams.get('token')!);
    expect((await put(wrong.href, await staticSite())).status).toBe(403);

    expect((await put(upload.url, await staticSite())).status).toBe(201);
  });

  test('an expired URL is 403', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    const db = new pg.Client({ connectionString: supergraph.databases.deployments });
    await db.connect();
    try {
      await db.query(`UPDATE uploads SET expires_at = now() - interval '1 second' WHERE id = $1`, [
        upload.id,
      ]);
    } finally {
      await db.end();
    }
    expect((await put(upload.url, await staticSite())).status).toBe(403);
  });

  test('only PUT is accepted, and an empty body is refused', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    expect((await put(upload.url, Buffer.alloc(0), 'POST')).status).toBe(405);
    expect((await put(upload.url, Buffer.alloc(0))).status).toBe(400);
    expect((await put(upload.url, await staticSite())).status).toBe(201);
  });

  test('an archive over UPLOAD_MAX_BYTES is 413, declared or streamed, and a smaller one may follow', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    const big = randomBytes(MAX_BYTES * 2);
    expect(await put(upload.url, big)).toEqual({
      status: 413,
      body: { error: `Archives are limited to ${MAX_BYTES} bytes.` },
    });
    // Without a Content-Length, the limit holds as the bytes arrive.
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < big.length; offset += 512)
          controller.enqueue(big.subarray(offset, offset + 512));
        controller.close();
      },
    });
    expect((await put(upload.url, streamed)).status).toBe(413);
    expect(
      await api.mutate<{ deployment: unknown; userErrors: UserErrorData[] }>(
        'createDeploymentFromUpload',
        'CreateDeploymentFromUploadInput',
        `deployment { id } ${USER_ERRORS}`,
        { projectId: project.id, uploadId: upload.id },
      ),
    ).toMatchObject({ deployment: null, userErrors: [{ field: ['input', 'uploadId'], code: 'CONFLICT' }] });
    // Nothing of the refused archive is left on disk.
    expect(existsSync(join(runtimeDir, 'uploads', `${upload.id}.tar.gz`))).toBe(false);

    expect((await put(upload.url, await staticSite())).status).toBe(201);
    expect(existsSync(join(runtimeDir, 'uploads', `${upload.id}.tar.gz`))).toBe(true);
  });
});

describe.concurrent('deploying an upload that is not there is refused', () => {
  test('an upload never PUT is a CONFLICT that says what to do', async () => {
    const project = await uploadProject();
    const upload = await createUpload(project.id);
    const result = await deployUpload(project.id, upload.id);
    expect(result).toEqual({
      deployment: null,
      userErrors: [
        {
          field: ['input', 'uploadId'],
          code: 'CONFLICT',
          message: 'Nothing was uploaded yet: PUT the archive to the upload URL first.',
        },
      ],
    });
  });

  test('another project’s upload, or one that does not exist, is NOT_FOUND', async () => {
    const mine = await uploadProject();
    const theirs = await uploadProject();
    const upload = await createUpload(theirs.id);
    expect((await put(upload.url, await staticSite())).status).toBe(201);

    for (const uploadId of [upload.id, `upl_${'0'.repeat(26)}`, 'upl_nope', '../../etc/passwd']) {
      expect(await deployUpload(mine.id, uploadId), uploadId).toEqual({
        deployment: null,
        userErrors: [{ field: ['input', 'uploadId'], code: 'NOT_FOUND', message: 'No such upload.' }],
      });
    }
    const { body } = await api.query<{ project: { deployments: { edges: unknown[] } } }>(
      'query ($id: ID!) { project(id: $id) { deployments(first: 5) { edges { cursor } } } }',
      { id: mine.id },
    );
    expect(body.data?.project.deployments.edges).toEqual([]);
  });

  test('a project with no repository cannot deploy from git, and says how to deploy', async () => {
    const project = await uploadProject();
    expect(await api.createDeployment({ projectId: project.id })).toEqual({
      deployment: null,
      userErrors: [
        {
          field: ['input', 'projectId'],
          code: 'CONFLICT',
          message: expect.stringContaining('createDeploymentFromUpload'),
        },
      ],
    });
  });
});
