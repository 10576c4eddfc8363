import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printSubgraphSchema } from '@apollo/subgraph';
import { createGateway, type Gateway } from '../../gateway/src/app';
import { composeSupergraph } from '../../gateway/src/composition';
import { loadGatewayConfig } from '../../gateway/src/config';
import { findFreePort } from '../../subgraphs/common/net';
import { type RunningSubgraph, startSubgraph } from '../../subgraphs/common/server';
import { type SubgraphName, subgraphNames, subgraphs } from '../../subgraphs/registry';
import { createTestDatabase, type TestDatabase } from './database';

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: T | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  };
}

export interface TestSupergraph {
  /** The gateway's GraphQL endpoint. */
  url: string;
  gateway: Gateway;
  subgraphs: Record<SubgraphName, RunningSubgraph>;
  /** Each subgraph's database, for factories that arrange data directly. */
  databases: Record<SubgraphName, string>;
  supergraphPath: string;
  /** POSTs an operation to the gateway as a JSON client would. */
  query<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResponse<T>>;
  /** Stops one subgraph (as an outage would), and starts it again on the same port and database. */
  stopSubgraph(name: SubgraphName): Promise<void>;
  restartSubgraph(name: SubgraphName): Promise<void>;
  close(): Promise<void>;
}

/**
 * Tests poll as one user far faster than a person would; the rate-limit tests set real, low
 * tiers of their own.
 */
export const GENEROUS_RATE_LIMITS = {
  RATE_LIMIT_TIERS: JSON.stringify({ anonymous: 1e6, free: 1e6, pro: 1e6, enterprise: 1e6 }),
};

export async function postGraphQL<T>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as GraphQLResponse<T>['body'],
  };
}

export const USER_ERRORS = 'userErrors { field message code }';

export interface UserErrorData {
  field: string[];
  message: string;
  code: string;
}

/**
 * Runs mutation `name` with `input` (as `<Name>Input`, the schema's convention) as `user`,
 * selecting `selection` and the userErrors; returns its payload, errors and error codes.
 */
export async function mutate<T = Record<string, unknown>>(
  query: TestSupergraph['query'],
  user: { headers: Record<string, string> } | undefined,
  name: string,
  input: Record<string, unknown>,
  selection = '',
) {
  const inputType = `${name[0]!.toUpperCase()}${name.slice(1)}Input`;
  const response = await query<Record<string, (T & { userErrors: UserErrorData[] }) | null>>(
    `mutation ($input: ${inputType}!) { ${name}(input: $input) { ${selection} ${USER_ERRORS} } }`,
    { input },
    user?.headers,
  );
  return {
    payload: response.body.data?.[name] ?? null,
    errors: response.body.errors ?? [],
    codes: (response.body.errors ?? []).map((e) => e.extensions?.code),
  };
}

/**
 * The real supergraph, in this process: every subgraph on its own database (fresh, from the
 * template) and a free port, composed in-process from their schemas with their real URLs, and
 * the gateway on a free port in front, all over real HTTP.
 */
export async function startTestSupergraph(
  gatewayEnv: Record<string, string> = {},
  /** Extra environment for every subgraph (e.g. low rate limits for accounts). */
  subgraphEnv: Record<string, string> = {},
): Promise<TestSupergraph> {
  const databases: TestDatabase[] = [];
  const databaseUrls = {} as Record<SubgraphName, string>;
  const running = {} as Record<SubgraphName, RunningSubgraph>;
  const environments = {} as Record<SubgraphName, Record<string, string>>;
  const runtimeDir = subgraphEnv.RUNTIME_DIR ?? mkdtempSync(join(tmpdir(), 'construct-runtime-'));
  // The events subgraph first: every other one relays its events there. It forwards some to
  // deployments, whose port is chosen now so events can be told it.
  const startOrder = ['events' as const, ...subgraphNames.filter((name) => name !== 'events')];
  const deploymentsPort = await findFreePort();
  for (const name of startOrder) {
    const database = await createTestDatabase(name);
    databases.push(database);
    databaseUrls[name] = database.url;
    const env = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      [`${name.toUpperCase()}_DATABASE_URL`]: database.url,
      // Each supergraph builds in its own folder and serves its edge on a port of its own.
      RUNTIME_DIR: runtimeDir,
      EDGE_PORT: '0',
      ...(running.events ? { EVENTS_URL: new URL(running.events.url).origin } : {}),
      DEPLOYMENTS_URL: `http://127.0.0.1:${deploymentsPort}`,
      ...subgraphEnv,
    };
    environments[name] = env;
    const port = name === 'deployments' ? deploymentsPort : 0;
    running[name] = await startSubgraph(await subgraphs[name].load(), { env, port });
  }

  const sdls = await Promise.all(
    subgraphNames.map(async (name) => ({
      name,
      url: running[name].url,
      sdl: printSubgraphSchema((await subgraphs[name].load()).schema),
    })),
  );
  const supergraphPath = join(mkdtempSync(join(tmpdir(), 'construct-')), 'supergraph.graphql');
  writeFileSync(supergraphPath, composeSupergraph(sdls));

  const gateway = await createGateway(
    loadGatewayConfig(['--supergraph', supergraphPath], {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      SUPERGRAPH_WATCH: 'false',
      ...GENEROUS_RATE_LIMITS,
      ...gatewayEnv,
    }),
  );
  const port = await gateway.listen(0);
  const url = `http://127.0.0.1:${port}/graphql`;

  return {
    url,
    gateway,
    subgraphs: running,
    databases: databaseUrls,
    supergraphPath,
    query: (query, variables, headers) => postGraphQL(url, query, variables, headers),
    stopSubgraph: (name) => running[name].close(),
    async restartSubgraph(name) {
      running[name] = await startSubgraph(await subgraphs[name].load(), {
        env: environments[name],
        port: running[name].port,
      });
    },
    async close() {
      await gateway.close();
      await Promise.all(Object.values(running).map((subgraph) => subgraph.close()));
      await Promise.all(databases.map((database) => database.drop()));
      if (!subgraphEnv.RUNTIME_DIR) rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}
