import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  commitSymlink,
  DeploymentsClient,
  format,
  isListening,
  type LogLine,
  processesMatching,
  repositories,
  sleep,
  stepsOf,
} from './support/deployments';
import { type DeploymentState, edgeGet } from './support/edge';
import { createOrganization, createUser } from './support/factories';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * How deployments fail, through the gateway, as a user sees it: every failure ends (never stuck
 * in BUILDING), says in words what to fix and at which step, and leaves the lines that explain
 * it in the logs. Bad input is refused before anything runs.
 */

let supergraph: TestSupergraph;
let api: DeploymentsClient;
const repos = repositories();

beforeAll(async () => {
  supergraph = await startTestSupergraph(
    {},
    {
      HEALTHCHECK_TIMEOUT_SECONDS: '5',
      START_TIMEOUT_SECONDS: '5',
      // One restart, then the app stays down: the whole crash loop fits in a few seconds.
      RESTART_MAX_RETRIES: '1',
      // The failures below build side by side.
      BUILDS_PER_ORGANIZATION: '8',
      BUILD_CONCURRENCY: '8',
    },
  );
  const owner = await createUser(supergraph.databases, 'Fay Failure');
  const { id } = await createOrganization(supergraph.databases, [{ user: owner, role: 'OWNER' }]);
  api = new DeploymentsClient(supergraph, owner, id);
});

afterAll(async () => {
  await supergraph?.close();
  await repos.cleanup();
});

const nonce = () => randomBytes(4).toString('hex');
const messages = (lines: LogLine[]) => lines.map((line) => line.message);

/**
 * What every failed deployment must show: ERROR at `step` with `message`, the step FAILED in the
 * record and nothing left RUNNING, and the error repeated in the build logs, where a CLI
 * following them reads it.
 */
async function expectFailed(
  deployment: DeploymentState,
  step: string,
  message: RegExp,
  steps: [string, string][],
): Promise<LogLine[]> {
  expect(deployment, JSON.stringify(deployment)).toMatchObject({
    status: 'ERROR',
    errorStep: step,
    isProduction: false,
  });
  expect(deployment.errorMessage).toMatch(message);
  expect(stepsOf(deployment)).toEqual(steps);
  const { body } = await api.query<{ deployment: { finishedAt: string | null; readyAt: string | null } }>(
    'query ($id: ID!) { deployment(id: $id) { finishedAt readyAt } }',
    { id: deployment.id },
  );
  expect(body.data?.deployment.finishedAt).not.toBeNull();
  expect(body.data?.deployment.readyAt).toBeNull();
  // Its URL serves nothing: a failed build never answers, not even with a stale app.
  expect((await edgeGet(deployment.url)).status).toBe(404);
  return api.logsUntil(deployment.id, 'BUILD', (lines) =>
    lines.some((line) => line.stream === 'SYSTEM' && line.message === `Error: ${deployment.errorMessage}`),
  );
}

/** The port an app was started on, from the runtime log line that says so. */
function portOf(lines: LogLine[]): number {
  const line = lines.find((l) => /^Starting .* on port \d+$/.test(l.message));
  expect(line, lines.map(format).join('\n')).toBeDefined();
  return Number(/port (\d+)$/.exec(line!.message)![1]);
}

describe.concurrent('a deployment that fails ends in ERROR with the reason and the step', () => {
  test('a repository that cannot be cloned fails at SOURCE, naming the repository', async () => {
    const url = `file:///tmp/construct-no-such-repository-${nonce()}`;
    const project = await api.project(`no-repo-${nonce()}`, url);
    const failed = await api.deployAndWait(project.id);

    const logs = await expectFailed(failed, 'SOURCE', /^Could not read the repository at file:\/\/\/tmp\//, [
      ['SOURCE', 'FAILED'],
    ]);
    expect(failed.errorMessage).toContain(url);
    expect(failed.commitSha).toBeNull();
    expect(messages(logs)).toContain(`Cloning ${url} (ref main)`);
  });

  test('credentials in a repository URL show nowhere: not in the error, the logs or the project', async () => {
    const token = `ghp_${randomBytes(16).toString('hex')}`;
    // Nothing listens on port 1: the clone fails at once, after git had the URL with its token.
    const project = await api.project(
      `creds-${nonce()}`,
      `https://x-access-token:${token}@127.0.0.1:1/owner/repo.git`,
    );
    const failed = await api.deployAndWait(project.id);
    const logs = await expectFailed(
      failed,
      'SOURCE',
      /^Could not read the repository at https:\/\/x-access-token:\*\*\*@127\.0\.0\.1:1\/owner\/repo\.git: /,
      [['SOURCE', 'FAILED']],
    );
    const { body } = await api.query('query ($id: ID!) { project(id: $id) { sourceUrl } }', {
      id: project.id,
    });
    expect(body.data).toEqual({
      project: { sourceUrl: 'https://x-access-token:***@127.0.0.1:1/owner/repo.git' },
    });
    expect(JSON.stringify(failed) + JSON.stringify(logs)).not.toContain(token);
  });

  test('a ref that does not exist fails at SOURCE, naming the ref', async () => {
    const repo = await repos.create('node-server');
    const project = await api.project(`no-ref-${nonce()}`, repo.url);
    const failed = await api.deployAndWait(project.id, { ref: 'no-such-branch' });

    await expectFailed(failed, 'SOURCE', /^The repository has no branch or tag named 'no-such-branch'\./, [
      ['SOURCE', 'FAILED'],
    ]);
    // Another ref than the production branch goes to preview: a typo never touches production.
    const { body } = await api.query<{ deployment: { environment: { name: string } } }>(
      'query ($id: ID!) { deployment(id: $id) { environment { name } } }',
      { id: failed.id },
    );
    expect(body.data?.deployment.environment.name).toBe('preview');
  });

  test('a build that fails stops at BUILD with the compiler’s own line in the build logs', async () => {
    const repo = await repos.create('failing-build');
    const project = await api.project(`bad-build-${nonce()}`, repo.url);
    const failed = await api.deployAndWait(project.id);

    const logs = await expectFailed(
      failed,
      'BUILD',
      /^The build command "npm run build" exited with code 1\. See the build logs\.$/,
      [
        ['SOURCE', 'SUCCEEDED'],
        ['INSTALL', 'SUCCEEDED'],
        ['BUILD', 'FAILED'],
      ],
    );
    expect(logs).toContainEqual(
      expect.objectContaining({
        type: 'BUILD',
        stream: 'STDERR',
        message: 'error TS2304: Cannot find name fixtureBuildError.',
      }),
    );
    // The start script of a failed build never runs.
    expect(messages(await api.logs(failed.id)).join('\n')).not.toContain('never started');
  });

  test('an app that never answers its health check fails at HEALTHCHECK and is stopped', async () => {
    const repo = await repos.create('never-healthy');
    const project = await api.project(`unhealthy-${nonce()}`, repo.url);
    const started = Date.now();
    const failed = await api.deployAndWait(project.id);

    await expectFailed(
      failed,
      'HEALTHCHECK',
      /^The app did not answer GET \/ with a success status within 5 s \(last answer: 500\)\.$/,
      [
        ['SOURCE', 'SUCCEEDED'],
        ['INSTALL', 'SUCCEEDED'],
        ['BUILD', 'SKIPPED'],
        ['START', 'SUCCEEDED'],
        ['HEALTHCHECK', 'FAILED'],
      ],
    );
    // It gave up at HEALTHCHECK_TIMEOUT_SECONDS, not at the default minute.
    expect(Date.now() - started).toBeLessThan(25_000);
    const runtime = await api.logs(failed.id, 'RUNTIME');
    expect(messages(runtime)).toContain('GET / -> 500');
    // The app is not left running behind an ERROR nobody routes to.
    expect(await isListening(portOf(runtime))).toBe(false);
    expect((await edgeGet(project.url)).status).toBe(404);
  });

  test('a start command that exits fails at START, with the app’s last words in the runtime logs', async () => {
    const repo = await repos.create('exits-on-start');
    const project = await api.project(`exits-${nonce()}`, repo.url);
    const failed = await api.deployAndWait(project.id);

    await expectFailed(
      failed,
      'START',
      /^The app exited with code \d+ before it answered on port \d+\. See the runtime logs\.$/,
      [
        ['SOURCE', 'SUCCEEDED'],
        ['INSTALL', 'SUCCEEDED'],
        ['BUILD', 'SKIPPED'],
        ['START', 'FAILED'],
      ],
    );
    expect(await api.logs(failed.id, 'RUNTIME')).toContainEqual(
      expect.objectContaining({ stream: 'STDERR', message: 'fatal: DATABASE_URL is not set' }),
    );
  });

  test('a root directory that is a symbolic link out of the repository fails at SOURCE', async () => {
    const repo = await repos.create('node-server');
    await commitSymlink(repo, 'app', '/etc');
    await commitSymlink(repo, 'nested/up', '../..');
    for (const rootDirectory of ['app', 'nested/up']) {
      const project = await api.project(`link-${nonce()}`, repo.url, { rootDirectory });
      const failed = await api.deployAndWait(project.id);
      await expectFailed(
        failed,
        'SOURCE',
        new RegExp(
          `^The root directory '${rootDirectory}' leads outside the source through a symbolic link\\.$`,
        ),
        [['SOURCE', 'FAILED']],
      );
    }
  });
});

describe.concurrent('what a deployment says about itself matches what happened', () => {
  // `commitSha` is promised "once the source was fetched", not only once the build succeeded.
  test('a deployment whose build failed tells which commit it built', async () => {
    const repo = await repos.create('failing-build');
    const project = await api.project(`which-commit-${nonce()}`, repo.url);
    const failed = await api.deployAndWait(project.id);
    expect(failed).toMatchObject({ status: 'ERROR', errorStep: 'BUILD' });
    expect(failed.commitSha).toBe(repo.sha);
  });

  // A poller that reads READY must not see ROUTE still RUNNING (a trigger slows the step's write to widen the window).
  test('a READY deployment has every step of its pipeline finished', async () => {
    const repo = await repos.create('static-site');
    const project = await api.project(`consistent-${nonce()}`, repo.url);
    const db = new pg.Client({ connectionString: supergraph.databases.deployments });
    await db.connect();
    try {
      const fn = pg.escapeIdentifier(`slow_route_${nonce()}`);
      await db.query(`
        CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.deployment_id IN (SELECT id FROM deployments WHERE project_id = ${pg.escapeLiteral(project.id)}) THEN
            PERFORM pg_sleep(1.5);
          END IF;
          RETURN NEW;
        END $$`);
      await db.query(`
        CREATE TRIGGER ${fn} BEFORE UPDATE ON deployment_steps FOR EACH ROW
        WHEN (NEW.step = 'ROUTE' AND NEW.outcome = 'SUCCEEDED') EXECUTE FUNCTION ${fn}()`);
      const ready = await api.deployAndWait(project.id);
      expect(ready.status).toBe('READY');
      expect(stepsOf(ready)).toEqual([
        ['SOURCE', 'SUCCEEDED'],
        ['INSTALL', 'SKIPPED'],
        ['BUILD', 'SKIPPED'],
        ['START', 'SUCCEEDED'],
        ['HEALTHCHECK', 'SUCCEEDED'],
        ['ROUTE', 'SUCCEEDED'],
      ]);
    } finally {
      await db.end();
    }
  });
});

describe.concurrent('an app that crashes after it started', () => {
  /** A crash-after-start deployment, READY then crashing 2 s after each start, out of retries after one restart. */
  async function crashingDeployment() {
    const repo = await repos.create('crash-after-start');
    const project = await api.project(`crashy-${nonce()}`, repo.url);
    // Long enough to pass the health check and serve, short enough to crash within the test.
    await api.setVariablesOk(project.id, 'production', { CRASH_AFTER_MS: '2000' });
    const queued = await api.deploy(project.id);
    const ready = await api.waitFor(
      queued.id,
      (status) => !['QUEUED', 'BUILDING', 'DEPLOYING'].includes(status),
    );
    expect(ready).toMatchObject({ status: 'READY', isProduction: true, errorMessage: null });
    return { project, ready };
  }

  /** Polls until the deployment says it gave up restarting. */
  async function gaveUp(id: string): Promise<DeploymentState> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const state = await api.waitFor(id, () => true);
      if (state.errorMessage?.includes('not restarted again') || Date.now() > deadline) return state;
      await sleep(100);
    }
  }

  test('goes READY, then CRASHED, is restarted, and gives up after RESTART_MAX_RETRIES', async () => {
    const { project, ready } = await crashingDeployment();
    expect((await edgeGet(project.url)).body).toMatch(/^alive/);

    const crashed = await api.waitFor(ready.id, (status) => status === 'CRASHED');
    expect(crashed.errorMessage).toBe('The app exited with code 1.');
    // While it is down, the edge says so instead of hanging or answering 404.
    expect((await edgeGet(project.url)).status).toBe(503);

    const restarted = await api.waitFor(ready.id, (status) => status === 'READY');
    expect(restarted.errorMessage).toBeNull();
    expect((await edgeGet(project.url)).body).toMatch(/^alive/);

    const final = await gaveUp(ready.id);
    expect(final.errorMessage).toBe(
      'The app crashed 2 times in a row and is not restarted again. Redeploy to try again.',
    );
    // The pipeline's record of the build is untouched by what the app did later.
    expect(stepsOf(final).every(([, outcome]) => outcome === 'SUCCEEDED' || outcome === 'SKIPPED')).toBe(
      true,
    );

    const runtime = await api.logsUntil(ready.id, 'RUNTIME', (lines) =>
      messages(lines).some((line) => line.includes('will not be restarted again')),
    );
    const text = messages(runtime);
    expect(text.filter((line) => line === 'crashing on purpose')).toHaveLength(2);
    expect(text).toContain('The app exited with code 1; restarting it in 1 s.');
    expect(text).toContain('The app is running again.');
    expect(text).toContain(
      'The app stopped 2 times in a row; it will not be restarted again. Redeploy to start it.',
    );
  });

  // When the last allowed restart had succeeded, the next crash is the one that gives up.
  test('once out of retries it is CRASHED, and a visit does not start it again', async ({ expect }) => {
    const { project, ready } = await crashingDeployment();
    const final = await gaveUp(ready.id);
    expect(final.errorMessage).toContain('not restarted again');

    expect.soft(final.status).toBe('CRASHED');
    expect.soft((await edgeGet(project.url)).status).toBe(503);
    await sleep(500);
    const starts = messages(await api.logs(ready.id, 'RUNTIME')).filter((line) =>
      line.startsWith('listening on'),
    );
    expect.soft(starts).toHaveLength(2);
  });
});

describe.concurrent('bad input is refused before anything runs, naming the field', () => {
  const marker = `/tmp/construct-pwned-${nonce()}`;

  test.each([
    'ext::sh -c touch /tmp/pwned',
    '--upload-pack=touch /tmp/x',
    `ext::sh -c touch% ${marker}`,
    `ext::sh -c 'touch ${marker}'`,
    `ext::${marker}`,
    `--upload-pack=touch ${marker}`,
    `--upload-pack=/usr/bin/touch`,
    '-oProxyCommand=touch@host:repo',
  ])('sourceUrl %s', async (sourceUrl) => {
    const created = await api.createProject({ slug: `url-${nonce()}`, sourceUrl });
    expect(created.project).toBeNull();
    expect(created.userErrors).toEqual([
      { field: ['input', 'sourceUrl'], code: 'INVALID', message: expect.stringMatching(/repository URL/) },
    ]);
    expect(existsSync(marker)).toBe(false);
  });

  test('the same sourceUrl is refused by updateProject, and the project keeps its own', async () => {
    const repo = await repos.create('static-site');
    const project = await api.project(`upd-${nonce()}`, repo.url);
    const updated = await api.mutate<{ project: unknown; userErrors: unknown[] }>(
      'updateProject',
      'UpdateProjectInput',
      'project { id } userErrors { field code }',
      { projectId: project.id, sourceUrl: `ext::sh -c touch% ${marker}` },
    );
    expect(updated).toEqual({
      project: null,
      userErrors: [{ field: ['input', 'sourceUrl'], code: 'INVALID' }],
    });
    const { body } = await api.query<{ project: { sourceUrl: string } }>(
      'query ($id: ID!) { project(id: $id) { sourceUrl } }',
      {
        id: project.id,
      },
    );
    expect(body.data?.project.sourceUrl).toBe(repo.url);
  });

  test.each([
    '--output=/tmp/x',
    'main;rm -rf /',
    '../../etc',
    '-b',
    'main..other',
    'refs/heads/../x',
  ])('ref %s', async (ref) => {
    const repo = await repos.create('static-site');
    const project = await api.project(`ref-${nonce()}`, repo.url);
    const created = await api.createDeployment({ projectId: project.id, ref });
    expect(created).toEqual({
      deployment: null,
      userErrors: [
        { field: ['input', 'ref'], code: 'INVALID', message: 'Not a valid branch, tag or commit SHA.' },
      ],
    });
    const { body } = await api.query<{ project: { deployments: { edges: unknown[] } } }>(
      'query ($id: ID!) { project(id: $id) { deployments(first: 5) { edges { cursor } } } }',
      { id: project.id },
    );
    expect(body.data?.project.deployments.edges).toEqual([]);
  });

  test.each([
    '../../etc',
    '/etc',
    'apps/../../etc',
    'C:/Windows',
  ])('rootDirectory %s', async (rootDirectory) => {
    const created = await api.createProject({
      slug: `root-${nonce()}`,
      sourceUrl: 'https://github.com/example/app.git',
      rootDirectory,
    });
    expect(created.project).toBeNull();
    expect(created.userErrors).toEqual([
      { field: ['input', 'rootDirectory'], code: 'INVALID', message: expect.any(String) },
    ]);
  });
});

describe.concurrent('cancel, promote and roll back refuse what they cannot do', () => {
  test('canceling a READY deployment is a CONFLICT, and it keeps serving', async () => {
    const repo = await repos.create('static-site');
    const project = await api.project(`cancel-ready-${nonce()}`, repo.url);
    const ready = await api.deployAndWait(project.id);
    expect(ready.status).toBe('READY');

    const canceled = await api.deploymentMutation('cancelDeployment', ready.id);
    expect(canceled).toEqual({
      deployment: null,
      userErrors: [
        {
          field: ['input', 'deploymentId'],
          code: 'CONFLICT',
          message: 'Only queued or building deployments can be canceled; this one is READY.',
        },
      ],
    });
    expect((await api.waitFor(ready.id)).status).toBe('READY');
    expect(await edgeGet(ready.url)).toMatchObject({ status: 200, deploymentId: ready.id });
  });

  test('canceling a build stops it at once: CANCELED, the step CANCELED, its processes gone', async () => {
    const repo = await repos.create('static-site');
    // A unique duration, so the build's processes are told apart from any other `sleep`.
    const sleeper = `sleep 30.${Date.now() % 1_000_000}`;
    const project = await api.project(`cancel-build-${nonce()}`, repo.url, { buildCommand: sleeper });
    const queued = await api.deploy(project.id);

    const building = await api.waitFor(queued.id, (status) => status !== 'QUEUED');
    expect(building.status).toBe('BUILDING');
    const deadline = Date.now() + 15_000;
    while (processesMatching(sleeper).length === 0 && Date.now() < deadline) await sleep(50);
    expect(processesMatching(sleeper).length).toBeGreaterThan(0);

    const asked = Date.now();
    const canceled = await api.deploymentMutation('cancelDeployment', queued.id);
    expect(canceled.userErrors).toEqual([]);
    expect(canceled.deployment?.status).toBe('CANCELED');

    while (processesMatching(sleeper).length > 0 && Date.now() - asked < 10_000) await sleep(50);
    expect(processesMatching(sleeper)).toEqual([]);
    // Far sooner than the 30 s the build would have taken (the kill grace is 3 s).
    expect(Date.now() - asked).toBeLessThan(5_000);

    let final = await api.waitFor(queued.id);
    while (stepsOf(final).some(([, outcome]) => outcome === 'RUNNING') && Date.now() - asked < 10_000) {
      await sleep(100);
      final = await api.waitFor(queued.id);
    }
    expect(final).toMatchObject({ status: 'CANCELED', errorMessage: null, isProduction: false });
    expect(stepsOf(final)).toEqual([
      ['SOURCE', 'SUCCEEDED'],
      ['INSTALL', 'SKIPPED'],
      ['BUILD', 'CANCELED'],
    ]);
    const logs = await api.logsUntil(queued.id, 'BUILD', (lines) => messages(lines).includes('Canceled.'));
    expect(messages(logs)).toContain(`Running "${sleeper}"`);

    // A canceled deployment stays canceled: it cannot be canceled again, nor serve.
    const again = await api.deploymentMutation('cancelDeployment', queued.id);
    expect(again.userErrors).toEqual([
      expect.objectContaining({ field: ['input', 'deploymentId'], code: 'CONFLICT' }),
    ]);
    expect((await edgeGet(final.url)).status).toBe(404);
    expect((await edgeGet(project.url)).status).toBe(404);
  });

  test('canceling while the app starts stops the app too, and the deployment stays CANCELED', async () => {
    const repo = await repos.create('never-healthy');
    const project = await api.project(`cancel-start-${nonce()}`, repo.url);
    const queued = await api.deploy(project.id);
    const deploying = await api.waitFor(queued.id, (status) => status !== 'QUEUED' && status !== 'BUILDING');
    expect(deploying.status).toBe('DEPLOYING');
    const runtime = await api.logsUntil(queued.id, 'RUNTIME', (lines) =>
      messages(lines).includes('GET / -> 500'),
    );
    const port = portOf(runtime);
    expect(await isListening(port)).toBe(true);

    const canceled = await api.deploymentMutation('cancelDeployment', queued.id);
    expect(canceled).toMatchObject({ userErrors: [], deployment: { status: 'CANCELED' } });
    const asked = Date.now();
    while ((await isListening(port)) && Date.now() - asked < 10_000) await sleep(100);
    expect(await isListening(port)).toBe(false);

    // Past the health check's own timeout: the failure it would have reported does not overwrite the cancel.
    await sleep(5500);
    const final = await api.waitFor(queued.id);
    expect(final).toMatchObject({ status: 'CANCELED', errorMessage: null, errorStep: null });
    expect(stepsOf(final)).toEqual([
      ['SOURCE', 'SUCCEEDED'],
      ['INSTALL', 'SUCCEEDED'],
      ['BUILD', 'SKIPPED'],
      ['START', 'SUCCEEDED'],
      ['HEALTHCHECK', 'CANCELED'],
    ]);
  });

  test('promoting a deployment that failed is a CONFLICT; production keeps what it served', async () => {
    const repo = await repos.create('static-site');
    const project = await api.project(`promote-err-${nonce()}`, repo.url);
    const ready = await api.deployAndWait(project.id);
    const failed = await api.deployAndWait(project.id, { ref: 'no-such-branch' });
    expect(failed.status).toBe('ERROR');

    const promoted = await api.deploymentMutation('promoteDeployment', failed.id);
    expect(promoted).toEqual({
      deployment: null,
      userErrors: [
        {
          field: ['input', 'deploymentId'],
          code: 'CONFLICT',
          message: 'Only a READY deployment can serve production; this one is ERROR.',
        },
      ],
    });
    expect(await edgeGet(project.url)).toMatchObject({ status: 200, deploymentId: ready.id });
  });

  test('rolling back to another project’s deployment is NOT_FOUND', async () => {
    const repo = await repos.create('static-site');
    const mine = await api.project(`rb-mine-${nonce()}`, repo.url);
    const theirs = await api.project(`rb-theirs-${nonce()}`, repo.url);
    const mineReady = await api.deployAndWait(mine.id);
    const theirsReady = await api.deployAndWait(theirs.id);
    expect([mineReady.status, theirsReady.status]).toEqual(['READY', 'READY']);

    const rolledBack = await api.mutate<{ deployment: unknown; userErrors: unknown[] }>(
      'rollbackProject',
      'RollbackProjectInput',
      'deployment { id } userErrors { field message code }',
      { projectId: mine.id, deploymentId: theirsReady.id },
    );
    expect(rolledBack).toEqual({
      deployment: null,
      userErrors: [
        {
          field: ['input', 'deploymentId'],
          code: 'NOT_FOUND',
          message: 'The project has no such deployment.',
        },
      ],
    });
    expect(await edgeGet(mine.url)).toMatchObject({ status: 200, deploymentId: mineReady.id });
    expect(await edgeGet(theirs.url)).toMatchObject({ status: 200, deploymentId: theirsReady.id });
  });
});
