import { renameSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOrganization, createProjects, createUser, type TestUser } from './support/factories';
import { startProxy } from './support/http-stubs';
import {
  composeTestSupergraph,
  startTestGateway,
  type TestGateway,
  writeTestSupergraph,
} from './support/processes';
import { postGraphQL, startTestSupergraph, type TestSupergraph } from './support/supergraph';

/** What operators rely on: health, readiness, metrics, version, request ids, reloads, shutdown. */

let sut: TestSupergraph;
/** A member of the organization the queries read. */
let owner: TestUser;
beforeAll(async () => {
  sut = await startTestSupergraph({ SUPERGRAPH_WATCH: 'true' });
  owner = await createUser(sut.databases);
  const organization = await createOrganization(sut.databases, [{ user: owner, role: 'OWNER' }], {
    slug: 'operators',
    name: 'Operators',
  });
  await createProjects(sut.databases, organization.id, ['console']);
});
afterAll(() => sut?.close());

const ORGANIZATION_WITH_PROJECTS =
  '{ organization(slug: "operators") { name projects { edges { node { slug } } } } }';
const COMPLETE = {
  data: { organization: { name: 'Operators', projects: { edges: [{ node: { slug: 'console' } }] } } },
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const services = [
  {
    name: 'the gateway',
    origin: () => new URL(sut.url).origin,
    service: 'gateway',
    checks: ['accounts', 'deployments', 'developer', 'events'],
  },
  {
    name: 'a subgraph',
    origin: () => new URL(sut.subgraphs.accounts.url).origin,
    service: 'subgraph-accounts',
    checks: ['database'],
  },
];

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(services)('the operational endpoints of $name', ({ origin, service, checks }) => {
  it('/health answers 200 while the process lives', async () => {
    const response = await fetch(`${origin()}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('/health/ready answers 200 with each of its checks passing', async () => {
    const response = await fetch(`${origin()}/health/ready`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({
      status: 'ready',
      checks: Object.fromEntries(checks.map((check) => [check, 'ok'])),
    });
  });

  it('/version names the service and its version', async () => {
    const response = await fetch(`${origin()}/version`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      service,
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      node: process.version,
    });
  });

  it('/metrics is Prometheus text with HTTP durations and GraphQL operations by name', async () => {
    const query = await sut.query(
      'query OperationsProbe { organization(slug: "operators") { name } }',
      undefined,
      owner.headers,
    );
    expect(query.body.errors).toBeUndefined();

    const response = await fetch(`${origin()}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const metrics = await response.text();
    expect(metrics).toContain('# TYPE http_request_duration_seconds histogram');
    expect(metrics).toMatch(
      new RegExp(
        `^http_request_duration_seconds_count\\{service="${service}",method="POST",route="/graphql",status="200"\\} [1-9]`,
        'm',
      ),
    );
    // The gateway counts the client's operation; the subgraph, the fetch planned from it.
    expect(metrics).toMatch(
      new RegExp(
        `^graphql_envelop_request\\{operationName="OperationsProbe[^"]*",operationType="query",service="${service}"\\} [1-9]`,
        'm',
      ),
    );
  });
});

describe('the metrics of a GET operation', () => {
  it('carry neither its query string nor its variables', async () => {
    const secret = `s3cret-${Date.now()}`;
    const params = new URLSearchParams({
      query: 'query GetProbe($slug: String!) { organization(slug: $slug) { name } }',
      variables: JSON.stringify({ slug: secret }),
    });
    const response = await fetch(`${sut.url}?${params}`, { headers: { 'apollo-require-preflight': '1' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { organization: null } });

    const metrics = await (await fetch(new URL('/metrics', sut.url))).text();
    expect(metrics).toMatch(/operationName="GetProbe"/);
    expect(metrics).not.toContain(secret);
    expect(metrics).not.toContain('?query=');
  });
});

describe('request ids', () => {
  let gateway: TestGateway;
  let accountsSpy: Awaited<ReturnType<typeof startProxy>>;
  let deploymentsSpy: Awaited<ReturnType<typeof startProxy>>;

  beforeAll(async () => {
    accountsSpy = await startProxy(sut.subgraphs.accounts.url);
    deploymentsSpy = await startProxy(sut.subgraphs.deployments.url);
    gateway = await startTestGateway(
      await writeTestSupergraph({ accounts: accountsSpy.url, deployments: deploymentsSpy.url }),
    );
  });
  afterAll(async () => {
    await gateway?.close();
    await Promise.all([accountsSpy?.close(), deploymentsSpy?.close()]);
  });

  /** Runs a query that needs both subgraphs; returns the id the client got and those the subgraphs got. */
  async function idsOf(headers: Record<string, string>) {
    accountsSpy.requests.length = 0;
    deploymentsSpy.requests.length = 0;
    const response = await postGraphQL(gateway.url, ORGANIZATION_WITH_PROJECTS, undefined, {
      ...headers,
      ...owner.headers,
    });
    expect(response.body).toEqual(COMPLETE);
    // GraphQL requests only: the gateway's JWKS download is its own, not the client's request.
    const graphql = [...accountsSpy.requests, ...deploymentsSpy.requests].filter((r) => r.method === 'POST');
    // At least one fetch per subgraph; the first request also checks the caller's session.
    expect(graphql.length).toBeGreaterThanOrEqual(2);
    return {
      echoed: response.headers.get('x-request-id'),
      forwarded: graphql.map((r) => r.headers['x-request-id']),
    };
  }

  it('echoes a client’s request id and sends the same id to every subgraph it asks', async () => {
    const { echoed, forwarded } = await idsOf({ 'x-request-id': 'client-42:retry.1' });
    expect(echoed).toBe('client-42:retry.1');
    expect(new Set(forwarded)).toEqual(new Set(['client-42:retry.1']));
  });

  it.each([
    ['with spaces', 'two words'],
    ['of 500 characters', 'x'.repeat(500)],
    ['that could inject log fields', 'id"},"level":"fatal'],
  ])('replaces a request id %s by a fresh UUID, used end to end', async (_, unsafe) => {
    const { echoed, forwarded } = await idsOf({ 'x-request-id': unsafe });
    expect(echoed).toMatch(UUID);
    expect(new Set(forwarded)).toEqual(new Set([echoed]));
  });

  it('makes a different id for each request that brings none', async () => {
    const first = await idsOf({});
    const second = await idsOf({});
    expect(first.echoed).toMatch(UUID);
    expect(second.echoed).toMatch(UUID);
    expect(second.echoed).not.toBe(first.echoed);
    expect(new Set(first.forwarded)).toEqual(new Set([first.echoed]));
  });
});

describe('a graceful shutdown', () => {
  it('lets a query in flight finish, closes without waiting out the grace period, then refuses connections', async () => {
    const slowDeployments = await startProxy(sut.subgraphs.deployments.url, { delayMs: 300 });
    const gateway = await startTestGateway(
      await writeTestSupergraph({ accounts: sut.subgraphs.accounts.url, deployments: slowDeployments.url }),
      { SHUTDOWN_GRACE_MS: '10000' },
    );
    try {
      const reachedDeployments = slowDeployments.nextRequest();
      const inFlight = postGraphQL(gateway.url, ORGANIZATION_WITH_PROJECTS, undefined, owner.headers);
      await reachedDeployments; // the gateway is now waiting on a subgraph for this query
      const closed = gateway.close();

      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(response.body).toEqual(COMPLETE);
      // The client keeps its connection alive; the drain must close it once its last response is out.
      const answered = performance.now();
      await closed;
      expect(performance.now() - answered).toBeLessThan(2_000);

      const refused = await fetch(gateway.url, { method: 'POST' }).then(
        () => undefined,
        (error: Error & { cause?: { code?: string } }) => error.cause?.code,
      );
      expect(refused).toBe('ECONNREFUSED');
    } finally {
      await gateway.close();
      await slowDeployments.close();
    }
  });
});

describe('a supergraph file that changes while the gateway runs', () => {
  const projectsQuery = () => sut.query(ORGANIZATION_WITH_PROJECTS, undefined, owner.headers);
  const nameQuery = () => sut.query('{ organization(slug: "operators") { name } }', undefined, owner.headers);
  const unknownProjects = (response: Awaited<ReturnType<typeof projectsQuery>>) =>
    response.body.errors?.[0]?.extensions?.code === 'GRAPHQL_VALIDATION_FAILED' &&
    /Cannot query field "projects" on type "Organization"/.test(response.body.errors[0].message);

  it('is reloaded: a subgraph removed from it is gone, the rest keeps answering', async () => {
    expect((await projectsQuery()).body).toEqual(COMPLETE);

    writeFileSync(sut.supergraphPath, await composeTestSupergraph({ accounts: sut.subgraphs.accounts.url }));

    expect(unknownProjects(await eventually(projectsQuery, unknownProjects))).toBe(true);
    expect((await nameQuery()).body).toEqual({ data: { organization: { name: 'Operators' } } });
    const ready = await fetch(new URL('/health/ready', sut.url));
    expect(await ready.json()).toEqual({ status: 'ready', checks: { accounts: 'ok' } });
  });

  it('keeps serving the previous supergraph when the new file is invalid, and reloads the next valid one', async () => {
    const errors = vi.spyOn(sut.gateway.logger, 'error');
    try {
      writeFileSync(sut.supergraphPath, 'this is not a supergraph');
      await vi.waitFor(
        () => expect(errors).toHaveBeenCalledWith(expect.anything(), expect.stringMatching(/reload failed/)),
        {
          timeout: 5_000,
        },
      );
    } finally {
      errors.mockRestore();
    }
    expect(unknownProjects(await projectsQuery())).toBe(true);
    expect((await nameQuery()).body).toEqual({ data: { organization: { name: 'Operators' } } });

    writeFileSync(
      sut.supergraphPath,
      await composeTestSupergraph({
        accounts: sut.subgraphs.accounts.url,
        deployments: sut.subgraphs.deployments.url,
      }),
    );
    expect((await eventually(projectsQuery, (response) => !response.body.errors)).body).toEqual(COMPLETE);
  });

  it('follows a file replaced by a rename (atomic saves, Kubernetes volumes), again and again', async () => {
    const replace = (content: string) => {
      writeFileSync(`${sut.supergraphPath}.next`, content);
      renameSync(`${sut.supergraphPath}.next`, sut.supergraphPath);
    };
    const accountsOnly = await composeTestSupergraph({ accounts: sut.subgraphs.accounts.url });
    const both = await composeTestSupergraph({
      accounts: sut.subgraphs.accounts.url,
      deployments: sut.subgraphs.deployments.url,
    });
    for (let round = 0; round < 2; round++) {
      replace(accountsOnly);
      expect(unknownProjects(await eventually(projectsQuery, unknownProjects))).toBe(true);
      replace(both);
      expect((await eventually(projectsQuery, (response) => !response.body.errors)).body).toEqual(COMPLETE);
    }
  });
});
