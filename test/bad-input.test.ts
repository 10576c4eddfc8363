import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrganization, createProjects, createUser } from './support/factories';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * Whatever a client sends, the gateway answers with a clear, safe error and keeps serving:
 * no stack, file path, SQL or internal address ever reaches the client.
 */

let sut: TestSupergraph;
beforeAll(async () => {
  sut = await startTestSupergraph();
});
afterAll(() => sut?.close());

const GRAPHQL_JSON = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };

interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] } | undefined;
}

async function send(init: RequestInit, url = sut.url): Promise<RawResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: RawResponse['body'];
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

const post = (
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = GRAPHQL_JSON,
) => send({ method: 'POST', headers, body: JSON.stringify({ query, variables }) });

const get = (query: string, headers: Record<string, string> = {}) =>
  send({ headers }, `${sut.url}?${new URLSearchParams({ query })}`);

/** Nothing about the server's insides: stack frames, file paths, SQL, addresses. */
function expectNoLeak(text: string) {
  expect(text).not.toMatch(/\bat\s+(?:\S+\s+)?\(?(?:file:\/\/|node:|\/)[^\s()]*:\d+:\d+/); // a stack frame
  expect(text).not.toMatch(/(?:\\n|\n)\s+at\s/); // a stack, even of frames without a location
  expect(text).not.toMatch(/"stack"\s*:/);
  expect(text).not.toContain(process.cwd());
  expect(text).not.toContain('/work/');
  expect(text).not.toContain('node_modules');
  expect(text).not.toMatch(/\b(?:SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b/);
  expect(text).not.toMatch(/\b(?:\d{1,3}\.){3}\d{1,3}\b/); // an IPv4 address, 127.0.0.1 included
  expect(text).not.toMatch(/localhost|ECONNREFUSED|ECONNRESET/);
  for (const subgraph of Object.values(sut.subgraphs)) expect(text).not.toContain(`:${subgraph.port}`);
}

/** How many GraphQL requests the subgraphs have served, from their own /metrics. */
async function subgraphGraphQLRequests(): Promise<number> {
  // A request is counted when its response finishes: let the last one settle.
  await new Promise((resolve) => setTimeout(resolve, 50));
  let total = 0;
  for (const subgraph of Object.values(sut.subgraphs)) {
    const metrics = await (await fetch(new URL('/metrics', subgraph.url))).text();
    for (const match of metrics.matchAll(
      /^http_request_duration_seconds_count\{[^}]*route="\/graphql"[^}]*\} (\d+)$/gm,
    )) {
      total += Number(match[1]);
    }
  }
  return total;
}

/** `{ organization { projects { edges { node { organization { … } } } } } }`, `depth` fields deep. */
function deepQuery(depth: number): string {
  const cycle = ['organization', 'projects', 'edges', 'node'];
  let query = '__typename';
  for (let level = depth - 1; level >= 2; level--) query = `${cycle[(level - 1) % 4]} { ${query} }`;
  return `{ organization(slug: "deep") { ${query} } }`;
}

function aliasesQuery(count: number): string {
  const aliases = Array.from({ length: count }, (_, i) => `a${i}: name`).join(' ');
  return `{ organization(slug: "aliased") { ${aliases} } }`;
}

describe('requests that are not GraphQL', () => {
  it('refuses a malformed JSON body with 400 and a message saying so', async () => {
    const response = await send({
      method: 'POST',
      headers: GRAPHQL_JSON,
      body: '{"query": "{ __typename }"',
    });
    expect(response.status).toBe(400);
    expect(response.body?.data).toBeUndefined();
    expect(response.body?.errors?.[0]?.message).toMatch(/invalid JSON/i);
    expectNoLeak(response.text);
  });

  it('refuses a 10 MB body with 413 before reading it whole', async () => {
    const response = await post('query ($blob: String) { __typename }', {
      blob: 'x'.repeat(10 * 1024 * 1024),
    });
    expect(response.status).toBe(413);
    expect(response.body?.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/larger than \d+ bytes/),
      extensions: { code: 'PAYLOAD_TOO_LARGE' },
    });
    expectNoLeak(response.text);
  });

  it('refuses a text/plain POST, which a browser sends cross-site without a preflight', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const withoutPreflight = await send({ method: 'POST', headers: { 'content-type': 'text/plain' }, body });
    expect(withoutPreflight.status).toBe(403);
    expect(withoutPreflight.body?.data).toBeUndefined();
    expectNoLeak(withoutPreflight.text);

    // Not a CSRF risk with the header, but still not a content type the gateway reads.
    const withPreflight = await send({
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'apollo-require-preflight': '1' },
      body,
    });
    expect(withPreflight.status).toBeGreaterThanOrEqual(400);
    expect(withPreflight.status).toBeLessThan(500);
    expectNoLeak(withPreflight.text);
  });

  it('refuses a GET without a preflight header (CSRF) and answers the same GET with one', async () => {
    const refused = await get('{ __typename }');
    expect(refused.status).toBe(403);
    expect(refused.body?.errors?.[0]?.message).toMatch(/CSRF/);
    expect(refused.body?.data).toBeUndefined();
    expectNoLeak(refused.text);

    const allowed = await get('{ __typename }', { 'apollo-require-preflight': '1' });
    expect(allowed.status).toBe(200);
    expect(allowed.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('never runs a mutation sent over GET', async () => {
    // Signed in, so that the mutation would succeed (and its creator see the organization) had it run.
    const user = await createUser(sut.databases);
    const response = await get(
      'mutation { createOrganization(input: { name: "Via GET", slug: "via-get" }) { organization { id } } }',
      { 'apollo-require-preflight': '1', accept: 'application/json', ...user.headers },
    );
    expect(response.status).toBe(405);
    expect(response.body?.errors?.[0]?.message).toMatch(/mutation/i);
    expectNoLeak(response.text);

    const lookup = await sut.query('{ organization(slug: "via-get") { id } }', undefined, user.headers);
    expect(lookup.body).toEqual({ data: { organization: null } });
  });
});

describe('GraphQL documents the gateway refuses', () => {
  it('names an unknown field and fails validation', async () => {
    const response = await post('{ organization(slug: "acme") { name nope } }');
    expect(response.status).toBe(400);
    expect(response.body?.data).toBeUndefined();
    expect(response.body?.errors).toHaveLength(1);
    expect(response.body?.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/"nope".*"Organization"/),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expectNoLeak(response.text);
  });

  it('refuses a query one level deeper than the depth limit, without asking any subgraph', async () => {
    const before = await subgraphGraphQLRequests();
    const atLimit = await post(deepQuery(15));
    expect(atLimit.body?.errors).toBeUndefined();
    expect(atLimit.body?.data).toEqual({ organization: null });
    const afterOne = await subgraphGraphQLRequests();

    const tooDeep = await post(deepQuery(16));
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body?.data).toBeUndefined();
    expect(tooDeep.body?.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/depth limit of 15 exceeded, found 16/i),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expectNoLeak(tooDeep.text);
    expect(afterOne).toBeGreaterThan(before);
    expect(await subgraphGraphQLRequests()).toBe(afterOne);
  });

  it('refuses a query 100 levels deep, without asking any subgraph', async () => {
    const before = await subgraphGraphQLRequests();
    const response = await post(deepQuery(100));
    expect(response.status).toBe(400);
    expect(response.body?.data).toBeUndefined();
    // The cost limit (checked before the depth limit) is what a query this deep meets first.
    expect(response.body?.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/limit of \d+ exceeded/i),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expectNoLeak(response.text);
    expect(await subgraphGraphQLRequests()).toBe(before);
  });

  it('refuses 1000 aliases, and accepts as many as the limit', async () => {
    const atLimit = await post(aliasesQuery(30));
    expect(atLimit.body).toEqual({ data: { organization: null } });

    const before = await subgraphGraphQLRequests();
    const response = await post(aliasesQuery(1000));
    expect(response.status).toBe(400);
    expect(response.body?.data).toBeUndefined();
    expect(response.body?.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/aliases limit of 30 exceeded, found 1000/i),
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expectNoLeak(response.text);
    expect(await subgraphGraphQLRequests()).toBe(before);
  });

  it('refuses a variable of the wrong type with BAD_USER_INPUT, naming the variable', async () => {
    const query = 'query ($slug: String!) { organization(slug: $slug) { name } }';
    const response = await post(query, { slug: { $ne: null } });
    expect(response.status).toBe(400);
    expect(response.body?.data).toBeUndefined();
    expect(response.body?.errors?.[0]).toMatchObject({
      message: expect.stringContaining('$slug'),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expectNoLeak(response.text);

    // A client that asks for plain application/json gets the same error with status 200.
    const legacy = await post(
      query,
      { slug: 42 },
      { 'content-type': 'application/json', accept: 'application/json' },
    );
    expect(legacy.status).toBe(200);
    expect(legacy.body?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('after all of that', () => {
  it('still serves a normal query across subgraphs', async () => {
    const survivor = await createUser(sut.databases);
    const organization = await createOrganization(sut.databases, [{ user: survivor, role: 'OWNER' }], {
      slug: 'survivor',
      name: 'Survivor',
    });
    await createProjects(sut.databases, organization.id, ['still-here']);

    const response = await sut.query(
      '{ organization(slug: "survivor") { name projects { edges { node { slug } } } } }',
      undefined,
      survivor.headers,
    );
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      data: { organization: { name: 'Survivor', projects: { edges: [{ node: { slug: 'still-here' } }] } } },
    });
  });
});
