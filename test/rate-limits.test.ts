import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Quota } from '../subgraphs/common/quota';
import { testEnvironment } from './support/environment';
import { createOrganization, createProjects, createUser } from './support/factories';
import { startTcpProxy } from './support/gateway-tcp-proxy';
import { startTestGateway, type TestGateway } from './support/processes';
import { codesOf, record, sleep, until, wsClients } from './support/subscriptions';
import {
  type GraphQLResponse,
  postGraphQL,
  startTestSupergraph,
  type TestSupergraph,
} from './support/supergraph';

/**
 * Per-principal rate limits at the gateway, with real, low limits: each operation costs the
 * points of its root fields (1 per query field, 5 per mutation field, every alias one more
 * field) and a point per 100 page fetches its lists may take, a principal's budget is counted per window, and over it the operation does not run
 * (429, Retry-After, RATE_LIMITED). The main gateway counts in memory; two more share a Redis.
 */

const TIERS = { anonymous: 6, free: 10, pro: 40 };
const WINDOW_SECONDS = 60;
const limitsEnv = {
  RATE_LIMIT_TIERS: JSON.stringify(TIERS),
  RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
  RATE_LIMIT_DEFAULT_TIER: 'free',
  // Anonymous callers are told apart by the address a trusted proxy reports.
  TRUST_PROXY: 'true',
};
const VIEWER = '{ viewer { id } }';
const CREATE_ORGANIZATION =
  'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } userErrors { code } } }';
const { redisUrl } = testEnvironment;

let supergraph: TestSupergraph;
const extraGateways: TestGateway[] = [];

beforeAll(async () => {
  supergraph = await startTestSupergraph(limitsEnv);
});
afterAll(async () => {
  for (const gateway of extraGateways) await gateway.close();
  await supergraph?.close();
});

/** A new user: a budget of their own. */
const newUser = (name = 'Rate Limited') => createUser(supergraph.databases, name);

interface Budget {
  limit: number;
  remaining: number;
  reset: number;
  policy: string | null;
}

function budgetOf(response: GraphQLResponse<unknown>): Budget {
  const header = (name: string) => Number(response.headers.get(name));
  return {
    limit: header('ratelimit-limit'),
    remaining: header('ratelimit-remaining'),
    reset: header('ratelimit-reset'),
    policy: response.headers.get('ratelimit-policy'),
  };
}

function expectRateLimited(response: GraphQLResponse<unknown>) {
  expect(response.status).toBe(429);
  expect(response.body.data).toBeUndefined();
  expect(codesOf(response.body.errors ?? [])).toEqual(['RATE_LIMITED']);
  const retryAfterSeconds = response.body.errors![0]!.extensions!.retryAfterSeconds as number;
  expect(retryAfterSeconds).toBeGreaterThan(0);
  expect(retryAfterSeconds).toBeLessThanOrEqual(WINDOW_SECONDS);
  expect(response.headers.get('retry-after')).toBe(String(retryAfterSeconds));
  expect(response.body.errors![0]!.message).toContain(`Retry in ${retryAfterSeconds} second`);
  expect(budgetOf(response).remaining).toBe(0);
}

const organizationInput = () => {
  const slug = `rl-${randomUUID().slice(0, 8)}`;
  return { input: { name: slug, slug } };
};

async function organizationExists(slug: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: supergraph.databases.accounts });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM organizations WHERE slug = $1', [slug])).rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('a user’s budget, counted in the gateway’s memory', () => {
  test('allows exactly the tier’s points, then refuses with 429, Retry-After and RATE_LIMITED', async () => {
    const user = await newUser();
    const seen: Budget[] = [];
    for (let i = 0; i < TIERS.free; i++) {
      const response = await supergraph.query(VIEWER, undefined, user.headers);
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      seen.push(budgetOf(response));
    }
    expect(seen.map((budget) => budget.remaining)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    for (const budget of seen) {
      expect(budget.limit).toBe(TIERS.free);
      expect(budget.policy).toBe(`${TIERS.free};w=${WINDOW_SECONDS}`);
      expect(budget.reset).toBeGreaterThan(0);
      expect(budget.reset).toBeLessThanOrEqual(WINDOW_SECONDS);
    }
    // One window: the time to its end only ever shrinks.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.reset).toBeLessThanOrEqual(seen[i - 1]!.reset);
    expect(seen[0]!.reset).toBeGreaterThanOrEqual(WINDOW_SECONDS - 1);

    const refused = await supergraph.query(VIEWER, undefined, user.headers);
    expectRateLimited(refused);
    expect(budgetOf(refused).limit).toBe(TIERS.free);
  });

  test('counts each alias and each root field a fragment brings, and nothing for introspection', async () => {
    const user = await newUser();
    const aliases = await supergraph.query(
      '{ a: viewer { id } b: viewer { id } c: viewer { id } }',
      undefined,
      user.headers,
    );
    expect(aliases.body.errors).toBeUndefined();
    expect(budgetOf(aliases).remaining).toBe(TIERS.free - 3);

    const fragments = await supergraph.query(
      'query { ...Two ... on Query { c: viewer { id } } } fragment Two on Query { a: viewer { id } b: viewer { id } }',
      undefined,
      user.headers,
    );
    expect(fragments.body.errors).toBeUndefined();
    expect(budgetOf(fragments).remaining).toBe(TIERS.free - 6);

    const introspection = await supergraph.query(
      '{ __typename __schema { queryType { name } } }',
      undefined,
      user.headers,
    );
    expect(introspection.status).toBe(200);
    expect(budgetOf(introspection).remaining).toBe(TIERS.free - 6);
  });

  test('charges a point more per 100 page fetches nested lists may take, before running it', async () => {
    const user = await newUser();
    // Page sizes in variables: the request-cost limit in front reads only literal ones.
    const nested = `query ($m: Int, $p: Int, $d: Int) { viewer { memberships(first: $m) { edges { node {
      organization { projects(first: $p) { edges { node { deployments(first: $d) { edges { node { id } } } } } } }
    } } } } }`;
    // 1 fetch of memberships, 50 of projects, 50 × 2 of deployments: 151 fetches, 1 point more.
    const light = await supergraph.query(nested, { m: 50, p: 2, d: 10 }, user.headers);
    expect(light.body.errors).toBeUndefined();
    expect(budgetOf(light).remaining).toBe(TIERS.free - 2);
    // 1 + 50 + 50 × 20 = 1,051 fetches: 1 + 10 points, more than the tier allows at all.
    expectRateLimited(await supergraph.query(nested, { m: 50, p: 20, d: 10 }, user.headers));
  });

  test('weighs a mutation at five points, and does not run one over the budget', async () => {
    const user = await newUser();
    const first = await supergraph.query(CREATE_ORGANIZATION, organizationInput(), user.headers);
    expect(first.body.errors).toBeUndefined();
    expect(budgetOf(first).remaining).toBe(TIERS.free - 5);
    const second = await supergraph.query(CREATE_ORGANIZATION, organizationInput(), user.headers);
    expect(budgetOf(second).remaining).toBe(0);

    const third = organizationInput();
    const refused = await supergraph.query(CREATE_ORGANIZATION, third, user.headers);
    expectRateLimited(refused);
    expect(await organizationExists(third.input.slug)).toBe(false);
  });

  test('is the user’s own: another user’s budget is untouched', async () => {
    const [spent, other] = await Promise.all([newUser(), newUser()]);
    for (let i = 0; i < TIERS.free; i++) await supergraph.query(VIEWER, undefined, spent.headers);
    expectRateLimited(await supergraph.query(VIEWER, undefined, spent.headers));

    const untouched = await supergraph.query(VIEWER, undefined, other.headers);
    expect(untouched.status).toBe(200);
    expect(budgetOf(untouched).remaining).toBe(TIERS.free - 1);
  });

  test('lets a browser app on another origin read the headers', async () => {
    const user = await newUser();
    const response = await supergraph.query(VIEWER, undefined, {
      ...user.headers,
      origin: 'https://dashboard.example.test',
    });
    const exposed = response.headers.get('access-control-expose-headers')?.split(/,\s*/) ?? [];
    expect(exposed).toEqual(
      expect.arrayContaining(['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After']),
    );
  });

  test('tells subgraphs the same budget the headers show (`viewerQuota`)', async () => {
    const user = await newUser();
    await supergraph.query(VIEWER, undefined, user.headers);
    const response = await supergraph.query<{ viewerQuota: Quota }>(
      '{ viewerQuota { principal tier limit remaining windowSeconds resetAt } }',
      undefined,
      user.headers,
    );
    expect(response.body.errors).toBeUndefined();
    const quota = response.body.data!.viewerQuota;
    const budget = budgetOf(response);
    expect(quota).toMatchObject({
      principal: `user:${user.id}`,
      tier: 'free',
      limit: budget.limit,
      remaining: budget.remaining,
      windowSeconds: WINDOW_SECONDS,
    });
    expect(quota.remaining).toBe(TIERS.free - 2);
    const secondsToReset = (Date.parse(quota.resetAt) - Date.now()) / 1000;
    expect(Math.abs(secondsToReset - budget.reset)).toBeLessThan(2);
  });

  test('a subscription costs a point when it starts; over the budget it gets RATE_LIMITED, and its socket stays', async () => {
    const user = await newUser();
    const organization = await createOrganization(supergraph.databases, [{ user, role: 'OWNER' }]);
    const [project] = await createProjects(supergraph.databases, organization.id, ['followed']);
    const QUIET = 'subscription ($id: ID!) { projectDeploymentsUpdated(projectId: $id) { id } }';
    const hub = () => supergraph.gateway.manager.current.subscriptions;
    const clients = wsClients(supergraph.url);
    try {
      const client = clients.open(user.headers.authorization);
      const upstreams = hub().upstreamCount;
      const first = record(client, QUIET, { id: project!.id });
      await until('the first subscription to start', () => hub().upstreamCount > upstreams, 10_000);
      const afterSubscribing = await supergraph.query(VIEWER, undefined, user.headers);
      expect(budgetOf(afterSubscribing).remaining).toBe(TIERS.free - 2);

      for (let i = 2; i < TIERS.free; i++) await supergraph.query(VIEWER, undefined, user.headers);
      const second = record(client, QUIET, { id: project!.id });
      await until(
        'the refusal',
        () => second.ended,
        10_000,
        () => second,
      );
      expect(codesOf(second.errors)).toEqual(['RATE_LIMITED']);
      expect(second.errors[0]!.extensions).not.toHaveProperty('http');
      expect(second.errors[0]!.extensions!.retryAfterSeconds).toBeGreaterThan(0);
      // Only that operation was refused: the socket and the subscription already running stay.
      expect(second.closed).toBeUndefined();
      expect(first.ended).toBe(false);
      const query = record(client, VIEWER);
      await until(
        'an answer to a query on the same socket',
        () => query.ended,
        10_000,
        () => query,
      );
      expect(codesOf(query.errors)).toEqual(['RATE_LIMITED']);
      expect(first.ended).toBe(false);
    } finally {
      await clients.disposeAll();
    }
  });
});

describe('anonymous callers', () => {
  test('are counted by client address, apart from signed-in users', async () => {
    const from = (address: string) => ({ 'x-forwarded-for': address });
    for (let i = 0; i < TIERS.anonymous; i++) {
      const response = await supergraph.query(VIEWER, undefined, from('203.0.113.7'));
      expect(response.status).toBe(200);
      expect(budgetOf(response)).toMatchObject({
        limit: TIERS.anonymous,
        remaining: TIERS.anonymous - 1 - i,
      });
    }
    expectRateLimited(await supergraph.query(VIEWER, undefined, from('203.0.113.7')));

    const otherAddress = await supergraph.query(VIEWER, undefined, from('203.0.113.8'));
    expect(otherAddress.status).toBe(200);
    expect(budgetOf(otherAddress).remaining).toBe(TIERS.anonymous - 1);
    const user = await newUser();
    const signedIn = await supergraph.query(VIEWER, undefined, { ...from('203.0.113.7'), ...user.headers });
    expect(signedIn.status).toBe(200);
    expect(budgetOf(signedIn)).toMatchObject({ limit: TIERS.free, remaining: TIERS.free - 1 });
  });
});

describe('API keys', () => {
  test('count apart from their creator, at their organization’s tier', async () => {
    const creator = await newUser('Key Creator');
    const [pro, plain] = await Promise.all([
      createOrganization(supergraph.databases, [{ user: creator, role: 'OWNER' }]),
      createOrganization(supergraph.databases, [{ user: creator, role: 'OWNER' }]),
    ]);
    const gateway = await startTestGateway(supergraph.supergraphPath, {
      ...limitsEnv,
      RATE_LIMIT_ORGANIZATION_TIERS: JSON.stringify({ [pro.id]: 'pro' }),
    });
    extraGateways.push(gateway);
    const createKey = async (organizationId: string) => {
      const { body } = await postGraphQL<{ createApiKey: { apiKey: { id: string }; secret: string } }>(
        gateway.url,
        'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret } }',
        { input: { organizationId, name: 'limits', scopes: ['READ_ONLY'] } },
        creator.headers,
      );
      expect(body.errors).toBeUndefined();
      return {
        id: body.data!.createApiKey.apiKey.id,
        headers: { authorization: `Bearer ${body.data!.createApiKey.secret}` },
      };
    };
    const proKey = await createKey(pro.id);
    const plainKey = await createKey(plain.id);

    const QUOTA = '{ viewerQuota { principal tier limit remaining } }';
    const asPro = await postGraphQL<{ viewerQuota: Record<string, unknown> }>(
      gateway.url,
      QUOTA,
      undefined,
      proKey.headers,
    );
    expect(asPro.body.data!.viewerQuota).toEqual({
      principal: `apiKey:${proKey.id}`,
      tier: 'pro',
      limit: TIERS.pro,
      remaining: TIERS.pro - 1,
    });
    expect(budgetOf(asPro)).toMatchObject({ limit: TIERS.pro, remaining: TIERS.pro - 1 });
    const asPlain = await postGraphQL<{ viewerQuota: Record<string, unknown> }>(
      gateway.url,
      QUOTA,
      undefined,
      plainKey.headers,
    );
    expect(asPlain.body.data!.viewerQuota).toEqual({
      principal: `apiKey:${plainKey.id}`,
      tier: 'free',
      limit: TIERS.free,
      remaining: TIERS.free - 1,
    });
    // The creator spent two mutations (ten points) of their own; the keys spent none of theirs.
    expectRateLimited(await postGraphQL(gateway.url, VIEWER, undefined, creator.headers));
  });
});

describe('two gateways on one Redis', () => {
  test.skipIf(!redisUrl)('share each principal’s budget', async () => {
    // A prefix of this run's own: other test files' gateways on this Redis count elsewhere.
    const env = { ...limitsEnv, REDIS_URL: redisUrl!, GATEWAY_RATE_LIMIT_KEY_PREFIX: `test:${randomUUID()}` };
    const [a, b] = await Promise.all([
      startTestGateway(supergraph.supergraphPath, env),
      startTestGateway(supergraph.supergraphPath, env),
    ]);
    extraGateways.push(a, b);
    const user = await newUser();
    for (let i = 0; i < 6; i++) await postGraphQL(a.url, VIEWER, undefined, user.headers);
    const remaining: number[] = [];
    for (let i = 0; i < 4; i++) {
      remaining.push(budgetOf(await postGraphQL(b.url, VIEWER, undefined, user.headers)).remaining);
    }
    expect(remaining).toEqual([3, 2, 1, 0]);
    expectRateLimited(await postGraphQL(a.url, VIEWER, undefined, user.headers));
    expectRateLimited(await postGraphQL(b.url, VIEWER, undefined, user.headers));
    // The in-memory gateway never heard of these requests.
    expect(budgetOf(await supergraph.query(VIEWER, undefined, user.headers)).remaining).toBe(TIERS.free - 1);
  });
});

describe('a Redis outage', () => {
  test.skipIf(!redisUrl)('leaves the API up, the gateway counting in its own memory meanwhile', async () => {
    const proxy = await startTcpProxy(redisUrl!);
    try {
      const gateway = await startTestGateway(supergraph.supergraphPath, {
        ...limitsEnv,
        REDIS_URL: proxy.url,
        GATEWAY_RATE_LIMIT_KEY_PREFIX: `test:${randomUUID()}`,
      });
      extraGateways.push(gateway);
      const user = await newUser();
      for (let i = 0; i < 3; i++) await postGraphQL(gateway.url, VIEWER, undefined, user.headers);

      await proxy.stop();
      // Long enough for the client to see its connection reset (it is local).
      await sleep(200);
      // Redis holds 3 points the gateway cannot read now: it counts afresh, and still enforces.
      for (let i = 0; i < TIERS.free; i++) {
        const response = await postGraphQL(gateway.url, VIEWER, undefined, user.headers);
        expect(response.status).toBe(200);
        expect(response.body.data).toEqual({ viewer: { id: user.id } });
        expect(budgetOf(response).remaining).toBe(TIERS.free - 1 - i);
      }
      expectRateLimited(await postGraphQL(gateway.url, VIEWER, undefined, user.headers));
    } finally {
      // Back, so the gateway's clients can say goodbye to it when the file closes them.
      await proxy.start();
    }
  });
});
