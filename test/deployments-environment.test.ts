import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { Kind, parse } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Caller } from '../subgraphs/common/caller';
import { gatewayHeaders } from './support/credentials';
import {
  commitBranch,
  DeploymentsClient,
  type LogLine,
  repositories,
  type VariableResult,
} from './support/deployments';
import { DEPLOYMENT_FIELDS, edgeGet } from './support/edge';
import { plantInEnvironment, testEnvironment } from './support/environment';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { postGraphQL, startTestSupergraph, type TestSupergraph, USER_ERRORS } from './support/supergraph';

/**
 * Environment variables as a team relies on them: written once, never shown again except to
 * ADMINs who ask, given to builds and apps of their environment only, masked in logs, encrypted
 * at rest; and an organization's projects invisible to everyone outside it.
 */

// Set in this process, where the subgraphs run: an app that sees it sees the host's environment.
const HOST_CANARY = `CONSTRUCT_TEST_HOST_CANARY_${randomBytes(4).toString('hex').toUpperCase()}`;
const removeCanary = plantInEnvironment(HOST_CANARY, 'the host environment leaked');

let supergraph: TestSupergraph;
let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let viewer: TestUser;
let billing: TestUser;
let stranger: TestUser;
let organization: { id: string; slug: string };
let api: DeploymentsClient;
const repos = repositories();

beforeAll(async () => {
  supergraph = await startTestSupergraph({}, { BUILDS_PER_ORGANIZATION: '8', BUILD_CONCURRENCY: '8' });
  const user = (name: string) => createUser(supergraph.databases, name);
  owner = await user('Olga Owner');
  admin = await user('Adam Admin');
  member = await user('Mia Member');
  viewer = await user('Vic Viewer');
  billing = await user('Bill Billing');
  stranger = await user('Sam Stranger');
  organization = await createOrganization(supergraph.databases, [
    { user: owner, role: 'OWNER' },
    { user: admin, role: 'ADMIN' },
    { user: member, role: 'MEMBER' },
    { user: viewer, role: 'VIEWER' },
    { user: billing, role: 'BILLING' },
  ]);
  // The stranger owns an organization of their own: a real user of the platform, just not of this team.
  await createOrganization(supergraph.databases, [{ user: stranger, role: 'OWNER' }]);
  api = new DeploymentsClient(supergraph, owner, organization.id);
});

afterAll(async () => {
  removeCanary();
  await supergraph?.close();
  await repos.cleanup();
});

const nonce = () => randomBytes(4).toString('hex');
/** A value no other string of the test run contains. */
const secret = (prefix = 'sk') => `${prefix}_${randomBytes(12).toString('hex')}`;
const messages = (lines: LogLine[]) => lines.map((line) => line.message);

/** Every field EnvironmentVariable has in the composed schema: a field added later is queried too. */
function allVariableFields(): string {
  const document = parse(readFileSync(supergraph.supergraphPath, 'utf8'));
  const type = document.definitions.find(
    (definition) =>
      definition.kind === Kind.OBJECT_TYPE_DEFINITION && definition.name.value === 'EnvironmentVariable',
  );
  if (type?.kind !== Kind.OBJECT_TYPE_DEFINITION) throw new Error('no EnvironmentVariable in the supergraph');
  return (type.fields ?? []).map((field) => field.name.value).join(' ');
}

interface EnvironmentListing {
  name: string;
  kind: string;
  variables: VariableResult[];
}

async function environmentsOf(
  projectId: string,
  client = api,
): Promise<{ body: unknown; environments: EnvironmentListing[] }> {
  const { body } = await client.query<{ project: { environments: EnvironmentListing[] } }>(
    `query ($id: ID!) { project(id: $id) { environments { id name kind createdAt variables { ${allVariableFields()} } } } }`,
    { id: projectId },
  );
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return { body, environments: body.data!.project.environments };
}

function reveal(client: DeploymentsClient, id: string) {
  return client.query<{ revealEnvironmentVariable: { value: string | null; userErrors: unknown[] } }>(
    `mutation ($input: EnvironmentVariableIdInput!) { revealEnvironmentVariable(input: $input) { value ${USER_ERRORS} } }`,
    { input: { id } },
  );
}

describe.concurrent('setting and reading variables', () => {
  test('listings show key, masked preview and dates, never the value', async () => {
    const project = await api.project(`listing-${nonce()}`, 'https://github.com/example/app.git');
    const token = secret();
    const short = 'hunter2';
    const previewToken = secret('pv');

    const set = await api.setVariablesOk(project.id, 'production', { SECRET_TOKEN: token, SHORT: short });
    await api.setVariablesOk(project.id, 'preview', { SECRET_TOKEN: previewToken });
    expect(set.map(({ key, preview }) => ({ key, preview }))).toEqual([
      // Long values end in their last 4 characters, so two keys can be told apart; short ones show nothing.
      { key: 'SECRET_TOKEN', preview: `••••••••${token.slice(-4)}` },
      { key: 'SHORT', preview: '••••••••' },
    ]);

    const { body, environments } = await environmentsOf(project.id);
    const named = (name: string) => environments.find((environment) => environment.name === name)!;
    expect(named('production').kind).toBe('PRODUCTION');
    expect(named('preview').kind).toBe('PREVIEW');
    expect(named('production').variables.map((variable) => variable.key)).toEqual(['SECRET_TOKEN', 'SHORT']);
    expect(named('preview').variables).toEqual([
      {
        id: expect.stringMatching(/^var_[0-9A-Z]{26}$/),
        key: 'SECRET_TOKEN',
        preview: `••••••••${previewToken.slice(-4)}`,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      },
    ]);
    const everything = JSON.stringify(body) + JSON.stringify(set);
    for (const value of [token, short, previewToken]) expect(everything).not.toContain(value);
  });

  // Production and preview are created in the same millisecond: their order cannot come from IDs.
  test('every project lists its environments production first, then preview', async () => {
    const projects = await Promise.all(
      Array.from({ length: 12 }, () => api.project(`order-${nonce()}`, 'https://github.com/example/app.git')),
    );
    for (const project of projects) {
      const { environments } = await environmentsOf(project.id);
      expect(
        environments.map((environment) => environment.name),
        project.id,
      ).toEqual(['production', 'preview']);
    }
  });

  test('setting a key again replaces its value: same variable, later updatedAt, new preview', async () => {
    const project = await api.project(`replace-${nonce()}`, 'https://github.com/example/app.git');
    const [first] = await api.setVariablesOk(project.id, 'production', { API_KEY: secret() });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const next = secret();
    const [second] = await api.setVariablesOk(project.id, 'production', { API_KEY: next });
    expect(second).toMatchObject({
      id: first!.id,
      key: 'API_KEY',
      createdAt: first!.createdAt,
      preview: `••••••••${next.slice(-4)}`,
    });
    expect(Date.parse(second!.updatedAt)).toBeGreaterThan(Date.parse(first!.updatedAt));
    const { value } = (await reveal(api, first!.id)).body.data!.revealEnvironmentVariable;
    expect(value).toBe(next);
  });

  test('OWNER and ADMIN can reveal a value; MEMBER and VIEWER are FORBIDDEN and see nothing of it', async () => {
    const project = await api.project(`reveal-${nonce()}`, 'https://github.com/example/app.git');
    const token = secret();
    const previewToken = secret('pv');
    const [production] = await api.setVariablesOk(project.id, 'production', { SECRET_TOKEN: token });
    const [preview] = await api.setVariablesOk(project.id, 'preview', { SECRET_TOKEN: previewToken });

    for (const user of [owner, admin]) {
      const { body } = await reveal(api.as(user), production!.id);
      expect(body).toEqual({ data: { revealEnvironmentVariable: { value: token, userErrors: [] } } });
    }
    // Same key in another environment: its own value.
    expect((await reveal(api, preview!.id)).body.data?.revealEnvironmentVariable.value).toBe(previewToken);

    for (const user of [member, viewer]) {
      const { body } = await reveal(api.as(user), production!.id);
      expect(body.data ?? null).toBeNull();
      expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
      expect(JSON.stringify(body)).not.toContain(token);
    }
    // A MEMBER may still change what they may not read back; a VIEWER may not.
    const replaced = await api.as(member).setVariables(project.id, 'production', { SECRET_TOKEN: secret() });
    expect(replaced.userErrors).toEqual([]);
    const { body } = await api
      .as(viewer)
      .query(
        `mutation ($input: SetEnvironmentVariablesInput!) { setEnvironmentVariables(input: $input) { ${USER_ERRORS} } }`,
        {
          input: {
            projectId: project.id,
            environment: 'production',
            variables: [{ key: 'SECRET_TOKEN', value: 'viewer' }],
          },
        },
      );
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  test.each([
    [[{ key: '1ABC', value: 'x' }], ['input', 'variables', '0', 'key']],
    [
      [
        { key: 'OK_KEY', value: 'x' },
        { key: 'PORT', value: '80' },
      ],
      ['input', 'variables', '1', 'key'],
    ],
    [[{ key: 'CONSTRUCT_X', value: 'x' }], ['input', 'variables', '0', 'key']],
    [[{ key: 'WITH-DASH', value: 'x' }], ['input', 'variables', '0', 'key']],
    [
      [
        { key: 'DUP', value: 'a' },
        { key: 'OTHER', value: 'b' },
        { key: 'DUP', value: 'c' },
      ],
      ['input', 'variables', '2', 'key'],
    ],
    [[{ key: 'NUL', value: 'a\u0000b' }], ['input', 'variables', '0', 'value']],
    [[], ['input', 'variables']],
  ])('invalid variables %j are refused at %j, and none of them is set', async (variables, field) => {
    const project = await api.project(`invalid-${nonce()}`, 'https://github.com/example/app.git');
    const result = await api.mutate<{
      variables: unknown[];
      userErrors: { field: string[]; code: string }[];
    }>('setEnvironmentVariables', 'SetEnvironmentVariablesInput', `variables { key } ${USER_ERRORS}`, {
      projectId: project.id,
      environment: 'production',
      variables,
    });
    expect(result.variables).toEqual([]);
    expect(result.userErrors).toEqual([expect.objectContaining({ field, code: 'INVALID' })]);
    // All or none: the valid ones of a refused batch are not set either.
    const { environments } = await environmentsOf(project.id);
    expect(environments.flatMap((environment) => environment.variables)).toEqual([]);
  });

  test('an environment the project does not have is NOT_FOUND', async () => {
    const project = await api.project(`no-env-${nonce()}`, 'https://github.com/example/app.git');
    const result = await api.setVariables(project.id, 'staging', { KEY: 'value' });
    expect(result).toEqual({
      variables: [],
      userErrors: [
        { field: ['input', 'environment'], code: 'NOT_FOUND', message: expect.stringContaining('staging') },
      ],
    });
  });
});

describe.concurrent('what a deployed app sees', () => {
  test('its environment’s variables at build and run, Construct’s own, and nothing of the host', async () => {
    const repo = await repos.create('node-server');
    const project = await api.project(`sees-${nonce()}`, repo.url);
    const token = secret();
    await api.setVariablesOk(project.id, 'production', {
      SECRET_TOKEN: token,
      GREETING: 'howdy',
      BUILD_MESSAGE: 'built with production variables',
    });
    await api.setVariablesOk(project.id, 'preview', { PREVIEW_ONLY: 'not for production' });
    const ready = await api.deployAndWait(project.id);
    expect(ready.status).toBe('READY');

    const env = async (name: string) => {
      const { status, body } = await edgeGet(ready.url, `/env/${name}`);
      return status === 200 ? body : null;
    };
    expect(await env('SECRET_TOKEN')).toBe(token);
    expect(await env('CONSTRUCT_ENVIRONMENT')).toBe('production');
    expect(await env('CONSTRUCT_DEPLOYMENT_ID')).toBe(ready.id);
    expect(await env('CONSTRUCT_GIT_COMMIT_SHA')).toBe(repo.sha);
    expect(await env('PORT')).toMatch(/^\d+$/);
    // The build ran with the variables too: it baked BUILD_MESSAGE into build-info.json.
    expect((await edgeGet(ready.url)).body).toMatch(
      /^howdy from node-server .*\nbuild: built, message "built with production variables"\n$/s,
    );

    expect(await env('PREVIEW_ONLY')).toBeNull();
    expect(await env(HOST_CANARY)).toBeNull();
    for (const name of [
      'TEST_DATABASE_URL',
      'REDIS_URL',
      'DEPLOYMENTS_DATABASE_URL',
      'DEPLOYMENTS_ENCRYPTION_KEY',
    ]) {
      expect(await env(name), name).toBeNull();
    }
    const home = await env('HOME');
    expect(home).not.toBeNull();
    expect(home).not.toBe(homedir());
    expect(home).not.toBe(testEnvironment.home);
  });

  test('a change applies to the next deployment; the running one keeps what it started with', async () => {
    const repo = await repos.create('node-server');
    const project = await api.project(`next-${nonce()}`, repo.url);
    const [variable] = await api.setVariablesOk(project.id, 'production', { FEATURE_FLAG: 'first-value' });
    const first = await api.deployAndWait(project.id);

    const deleted = await api.mutate<{ deletedVariableId: string | null; userErrors: unknown[] }>(
      'deleteEnvironmentVariable',
      'EnvironmentVariableIdInput',
      `deletedVariableId ${USER_ERRORS}`,
      { id: variable!.id },
    );
    expect(deleted).toEqual({ deletedVariableId: variable!.id, userErrors: [] });
    await api.setVariablesOk(project.id, 'production', { OTHER_FLAG: 'second-value' });
    const second = await api.deployAndWait(project.id);

    expect((await edgeGet(first.url, '/env/FEATURE_FLAG')).body).toBe('first-value');
    expect((await edgeGet(first.url, '/env/OTHER_FLAG')).status).toBe(404);
    expect((await edgeGet(second.url, '/env/FEATURE_FLAG')).status).toBe(404);
    expect((await edgeGet(second.url, '/env/OTHER_FLAG')).body).toBe('second-value');
  });

  test('a preview deployment gets preview variables at its own URL; production is untouched', async () => {
    const repo = await repos.create('node-server');
    const featureSha = await commitBranch(repo, 'feature/greeting', { 'NOTES.md': 'a change on a branch\n' });
    const project = await api.project(`preview-${nonce()}`, repo.url);
    await api.setVariablesOk(project.id, 'production', { GREETING: 'hello-production' });
    await api.setVariablesOk(project.id, 'preview', { GREETING: 'hello-preview' });

    const production = await api.deployAndWait(project.id);
    const preview = await api.deployAndWait(project.id, { ref: 'feature/greeting' });
    expect(production).toMatchObject({ status: 'READY', isProduction: true, commitSha: repo.sha });
    expect(preview).toMatchObject({ status: 'READY', isProduction: false, commitSha: featureSha });
    const { body } = await api.query<{ deployment: { ref: string; environment: { name: string } } }>(
      'query ($id: ID!) { deployment(id: $id) { ref environment { name } } }',
      { id: preview.id },
    );
    expect(body.data?.deployment).toEqual({ ref: 'feature/greeting', environment: { name: 'preview' } });

    expect(new Set([preview.url, production.url, project.url]).size).toBe(3);
    expect((await edgeGet(preview.url)).body).toMatch(/^hello-preview from node-server/);
    expect((await edgeGet(preview.url, '/env/CONSTRUCT_ENVIRONMENT')).body).toBe('preview');
    const served = await edgeGet(project.url);
    expect(served).toMatchObject({ status: 200, deploymentId: production.id });
    expect(served.body).toMatch(/^hello-production from node-server/);
  });
});

describe.concurrent('secrets stay secret', () => {
  // Logs are masked a line at a time, so a multi-line value (a PEM key) must be masked line by line.
  test('a multi-line value printed by the build is masked line by line', async () => {
    const repo = await repos.create('static-site');
    const body = [randomBytes(24).toString('hex'), randomBytes(24).toString('hex')];
    const key = ['-----BEGIN PRIVATE KEY-----', ...body, '-----END PRIVATE KEY-----'].join('\n');
    const project = await api.project(`pem-${nonce()}`, repo.url, { buildCommand: 'echo "$PRIVATE_KEY"' });
    await api.setVariablesOk(project.id, 'production', { PRIVATE_KEY: key });
    const ready = await api.deployAndWait(project.id);
    expect(ready.status).toBe('READY');
    const build = messages(await api.logs(ready.id, 'BUILD')).join('\n');
    for (const line of body) expect(build).not.toContain(line);
  });

  test('a value printed by the build or the app is masked in the logs, and stored nowhere in plaintext', async () => {
    const repo = await repos.create('node-server');
    const token = secret();
    const previewToken = secret('pv');
    const project = await api.project(`masked-${nonce()}`, repo.url, {
      buildCommand: 'npm run build && echo "token is $SECRET_TOKEN"',
    });
    await api.setVariablesOk(project.id, 'production', { SECRET_TOKEN: token });
    await api.setVariablesOk(project.id, 'preview', { SECRET_TOKEN: previewToken });
    const ready = await api.deployAndWait(project.id);
    expect(ready.status).toBe('READY');
    // The app logs each request's path: the secret goes through the runtime logs too.
    expect((await edgeGet(ready.url, `/${token}`)).status).toBe(404);

    const build = messages(await api.logs(ready.id, 'BUILD'));
    expect(build).toContain('token is [masked]');
    const runtime = messages(
      await api.logsUntil(ready.id, 'RUNTIME', (lines) => messages(lines).includes('GET /[masked]')),
    );
    expect([...build, ...runtime].join('\n')).not.toContain(token);

    // Everything the deployments database holds, every table of every schema, as text.
    const db = new pg.Client({ connectionString: supergraph.databases.deployments });
    await db.connect();
    try {
      const { rows: tables } = await db.query<{ schema: string; name: string }>(
        `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
          WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
      );
      expect(tables.map((table) => table.name)).toEqual(
        expect.arrayContaining(['environment_variables', 'deployments', 'deployment_logs']),
      );
      for (const table of tables) {
        const { rows } = await db.query<{ row: string }>(
          `SELECT t::text AS row FROM ${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.name)} t`,
        );
        for (const { row } of rows) {
          expect(row, `${table.schema}.${table.name}`).not.toContain(token);
          expect(row, `${table.schema}.${table.name}`).not.toContain(previewToken);
        }
      }
      const { rows: variables } = await db.query<{ value_encrypted: string }>(
        'SELECT value_encrypted FROM environment_variables',
      );
      const { rows: deployments } = await db.query<{ env_encrypted: string }>(
        'SELECT env_encrypted FROM deployments WHERE id = $1',
        [ready.id],
      );
      for (const ciphertext of [...variables.map((v) => v.value_encrypted), deployments[0]!.env_encrypted]) {
        expect(ciphertext).toMatch(/^v1\./);
      }
    } finally {
      await db.end();
    }
  });
});

describe.concurrent('limits the API accepts hold when deploying', () => {
  // Linux caps a process's argv + environment (ARG_MAX): an environment past it cannot start anything.
  test('variables too large to start a process with are refused, or fail saying so', async () => {
    const repo = await repos.create('static-site');
    const project = await api.project(`huge-env-${nonce()}`, repo.url);
    // Just past this machine's ARG_MAX, in batches that fit the gateway's 1 MB request limit.
    const valueBytes = 60 * 1024;
    const count =
      Math.ceil(Number(execFileSync('getconf', ['ARG_MAX'], { encoding: 'utf8' })) / valueBytes) + 2;
    expect(count, 'this machine takes more than the API accepts').toBeLessThanOrEqual(200);
    for (let first = 0; first < count; first += 10) {
      const keys = Array.from({ length: Math.min(10, count - first) }, (_, i) => `LARGE_${first + i}`);
      const set = await api.setVariables(
        project.id,
        'production',
        Object.fromEntries(keys.map((key) => [key, 'x'.repeat(valueBytes)])),
      );
      // Refusing what no process could be started with is a fix too.
      if (set.userErrors.length > 0) {
        expect(set.userErrors).toEqual([expect.objectContaining({ field: ['input', 'variables'] })]);
        return;
      }
    }
    const failed = await api.deployAndWait(project.id);
    expect(failed.status).toBe('ERROR');
    expect(failed.errorMessage).not.toMatch(/internal error/);
    expect(failed.errorMessage).toMatch(/variables/i);
  });
});

describe('another organization’s user sees none of it', () => {
  const slug = `private-${nonce()}`;
  let project: { id: string; url: string };
  let deploymentId: string;
  let variableId: string;
  let uploadId: string;
  let token: string;
  let outsider: DeploymentsClient;

  beforeAll(async () => {
    const repo = await repos.create('static-site');
    project = await api.project(slug, repo.url);
    token = secret();
    [{ id: variableId }] = (await api.setVariablesOk(project.id, 'production', { SECRET_TOKEN: token })) as [
      VariableResult,
    ];
    const ready = await api.deployAndWait(project.id);
    expect(ready.status).toBe('READY');
    deploymentId = ready.id;
    const upload = await api.mutate<{ upload: { id: string } }>(
      'createUpload',
      'CreateUploadInput',
      'upload { id }',
      {
        projectId: project.id,
      },
    );
    uploadId = upload.upload.id;
    outsider = api.as(stranger);
  });

  /** Nothing that names or holds the organization's things may come back. */
  function expectNothingOf(body: unknown) {
    const text = JSON.stringify(body);
    for (const value of [project.id, deploymentId, variableId, token, organization.slug, project.url]) {
      expect(text).not.toContain(value);
    }
  }

  test('project(id) and deployment(id) are null, as if they did not exist', async () => {
    const { body } = await outsider.query(
      `query ($p: ID!, $d: ID!) {
        project(id: $p) { id name environments { variables { id key } } }
        deployment(id: $d) { ${DEPLOYMENT_FIELDS} logs(first: 5) { edges { node { message } } } }
      }`,
      { p: project.id, d: deploymentId },
    );
    expect(body).toEqual({ data: { project: null, deployment: null } });
  });

  test('the organization and its projects are not readable, through the gateway or straight at the subgraph', async () => {
    const { body } = await outsider.query(
      'query ($slug: String!) { organization(slug: $slug) { id projects(first: 10) { edges { node { id } } } } }',
      { slug: organization.slug },
    );
    expect(body).toEqual({ data: { organization: null } });
    expectNothingOf(body);

    // The deployments subgraph guards Organization.projects itself, whoever hands it the reference.
    const caller: Caller = {
      kind: 'user',
      userId: stranger.id,
      sessionId: stranger.sessionId,
      memberships: {},
    };
    const direct = await postGraphQL<{ _entities: unknown[] }>(
      supergraph.subgraphs.deployments.url,
      'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { id projects(first: 10) { edges { node { id slug } } } } ... on Project { id slug } ... on Deployment { id status } } }',
      {
        r: [
          { __typename: 'Organization', id: organization.id },
          { __typename: 'Project', id: project.id },
          { __typename: 'Deployment', id: deploymentId },
        ],
      },
      await gatewayHeaders('deployments', caller),
    );
    const [org, ...rest] = direct.body.data?._entities ?? [];
    expect(org).toEqual({ id: organization.id, projects: null });
    expect(rest).toEqual([null, null]);
    expect(direct.body.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    expectNothingOf(direct.body);
  });

  test.each([
    [
      'updateProject',
      'UpdateProjectInput',
      'project { id }',
      () => ({ projectId: project.id, name: 'taken over' }),
      'projectId',
    ],
    [
      'deleteProject',
      'DeleteProjectInput',
      'deletedProjectId',
      () => ({ projectId: project.id }),
      'projectId',
    ],
    [
      'setEnvironmentVariables',
      'SetEnvironmentVariablesInput',
      'variables { id }',
      () => ({
        projectId: project.id,
        environment: 'production',
        variables: [{ key: 'SECRET_TOKEN', value: 'mine now' }],
      }),
      'projectId',
    ],
    ['revealEnvironmentVariable', 'EnvironmentVariableIdInput', 'value', () => ({ id: variableId }), 'id'],
    [
      'deleteEnvironmentVariable',
      'EnvironmentVariableIdInput',
      'deletedVariableId',
      () => ({ id: variableId }),
      'id',
    ],
    [
      'createEnvironment',
      'CreateEnvironmentInput',
      'environment { id }',
      () => ({ projectId: project.id, name: 'mine' }),
      'projectId',
    ],
    [
      'createDeployment',
      'CreateDeploymentInput',
      'deployment { id }',
      () => ({ projectId: project.id }),
      'projectId',
    ],
    [
      'createUpload',
      'CreateUploadInput',
      'upload { id url }',
      () => ({ projectId: project.id }),
      'projectId',
    ],
    [
      'createDeploymentFromUpload',
      'CreateDeploymentFromUploadInput',
      'deployment { id }',
      () => ({ projectId: project.id, uploadId }),
      'projectId',
    ],
    ['cancelDeployment', 'DeploymentIdInput', 'deployment { id }', () => ({ deploymentId }), 'deploymentId'],
    ['redeploy', 'DeploymentIdInput', 'deployment { id }', () => ({ deploymentId }), 'deploymentId'],
    ['promoteDeployment', 'DeploymentIdInput', 'deployment { id }', () => ({ deploymentId }), 'deploymentId'],
    [
      'rollbackProject',
      'RollbackProjectInput',
      'deployment { id }',
      () => ({ projectId: project.id, deploymentId }),
      'projectId',
    ],
    [
      'createProject',
      'CreateProjectInput',
      'project { id }',
      () => ({ organizationId: organization.id, name: 'Intruder', slug: 'intruder' }),
      'organizationId',
    ],
  ] as const)('%s is NOT_FOUND and changes nothing', async (mutation, inputType, selection, input, field) => {
    const { body } = await outsider.query<Record<string, { userErrors: unknown[] }>>(
      `mutation ($input: ${inputType}!) { ${mutation}(input: $input) { ${selection} ${USER_ERRORS} } }`,
      { input: input() },
    );
    expect(body.errors).toBeUndefined();
    expect(body.data![mutation]!.userErrors).toEqual([
      { field: ['input', field], code: 'NOT_FOUND', message: expect.any(String) },
    ]);
    expectNothingOf(body);

    // The owner's view is as it was.
    const after = await api.query<{
      project: { name: string; environments: { name: string; variables: { id: string }[] }[] };
    }>('query ($id: ID!) { project(id: $id) { name environments { name variables { id } } } }', {
      id: project.id,
    });
    expect(after.body.data?.project.name).toBe(slug);
    expect(after.body.data?.project.environments).toEqual(
      expect.arrayContaining([
        { name: 'production', variables: [{ id: variableId }] },
        { name: 'preview', variables: [] },
      ]),
    );
    expect((await reveal(api, variableId)).body.data?.revealEnvironmentVariable.value).toBe(token);
    expect(await edgeGet(project.url)).toMatchObject({ status: 200, deploymentId });
  });

  // BILLING "sees the organization, nothing else of it" (schema/accounts.graphql).
  test('a BILLING member sees the organization but none of its projects or deployments', async ({
    expect,
  }) => {
    const { body } = await api.as(billing).query(
      `query ($p: ID!, $d: ID!) {
        project(id: $p) { id environments { variables { key } } }
        deployment(id: $d) { id logs(first: 3) { edges { node { message } } } }
      }`,
      { p: project.id, d: deploymentId },
    );
    expect.soft(body.data).toEqual({ project: null, deployment: null });
  });
});
