/**
 * The whole Construct stack in this process, as test/support/supergraph.ts boots it, but on
 * databases of its own (created fresh, dropped on close) and with settings the benchmark chooses.
 * Only the root package's dependencies are used, so it runs without `bench/node_modules`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printSubgraphSchema } from '@apollo/subgraph';
import { dropDatabase, embeddedPostgres, ensureDatabase, withDatabase } from '../../db/connection';
import { createGateway, type Gateway } from '../../gateway/src/app';
import { composeSupergraph } from '../../gateway/src/composition';
import { loadGatewayConfig } from '../../gateway/src/config';
import { ownDatabaseVariable } from '../../subgraphs/common/config';
import { type RunningSubgraph, startSubgraph } from '../../subgraphs/common/server';
import { type SubgraphName, subgraphNames, subgraphs } from '../../subgraphs/registry';
import { benchVariable } from '../common/options';

export interface StackOptions {
  /** Extra environment for every subgraph (the deployments subgraph reads its settings from it). */
  subgraphEnv: Record<string, string>;
  /** Where development keys live; the gateway and the subgraphs must agree on it. */
  keysDir: string;
}

export interface Stack {
  /** The gateway's GraphQL endpoint. */
  graphqlUrl: string;
  /** The PostgreSQL server the databases were created on, without its password. */
  databaseServer: string;
  databaseSource: 'BENCH_DATABASE_URL' | 'DATABASE_URL' | 'embedded';
  /** Part of every database name of this run, and so of the titles of their server processes. */
  databaseTag: string;
  runtimeDir: string;
  /** Stops everything it started and deletes what it created; safe to call after a partial start. */
  close(): Promise<void>;
}

const base = (keysDir: string) => ({
  NODE_ENV: 'development',
  LOG_LEVEL: 'silent',
  HOST: '127.0.0.1',
  KEYS_DIR: keysDir,
  // Nothing is in flight when the benchmark closes the stack; no reason to wait the default 10 s.
  SHUTDOWN_GRACE_MS: '2000',
});

export async function startStack(options: StackOptions): Promise<Stack> {
  const undo: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const step of undo.reverse()) await step().catch((error) => console.error(`  cleanup: ${error}`));
    undo.length = 0;
  };

  try {
    const given = benchVariable('BENCH_DATABASE_URL') ?? benchVariable('DATABASE_URL');
    const source = benchVariable('BENCH_DATABASE_URL')
      ? 'BENCH_DATABASE_URL'
      : benchVariable('DATABASE_URL')
        ? 'DATABASE_URL'
        : 'embedded';
    let serverUrl: string;
    if (given) {
      serverUrl = given;
    } else {
      const embedded = await embeddedPostgres();
      // A no-op when another process (npm start, vitest) started it: theirs to stop.
      undo.push(() => embedded.stop());
      serverUrl = embedded.url;
    }

    const runtimeDir = await mkdtemp(join(tmpdir(), 'construct-bench-runtime-'));
    undo.push(() => rm(runtimeDir, { recursive: true, force: true }));

    const suffix = randomBytes(4).toString('hex');
    const running = {} as Record<SubgraphName, RunningSubgraph>;
    for (const name of subgraphNames) {
      const database = `construct_bench_${name}_${suffix}`;
      await ensureDatabase(serverUrl, database);
      undo.push(() => dropDatabase(serverUrl, database));
      const env = {
        ...base(options.keysDir),
        [ownDatabaseVariable(name)]: withDatabase(serverUrl, database),
        RUNTIME_DIR: runtimeDir,
        EDGE_PORT: '0',
        ...options.subgraphEnv,
      };
      running[name] = await startSubgraph(await subgraphs[name].load(), { env, port: 0 });
      undo.push(() => running[name].close());
    }

    const sdls = await Promise.all(
      subgraphNames.map(async (name) => ({
        name,
        url: running[name].url,
        sdl: printSubgraphSchema((await subgraphs[name].load()).schema),
      })),
    );
    const supergraphDir = await mkdtemp(join(tmpdir(), 'construct-bench-'));
    undo.push(() => rm(supergraphDir, { recursive: true, force: true }));
    const supergraphPath = join(supergraphDir, 'supergraph.graphql');
    await writeFile(supergraphPath, composeSupergraph(sdls));

    const gateway: Gateway = await createGateway(
      loadGatewayConfig(['--supergraph', supergraphPath], {
        ...base(options.keysDir),
        SUPERGRAPH_WATCH: 'false',
        RATE_LIMITS_ENABLED: 'false',
      }),
    );
    undo.push(() => gateway.close());
    const port = await gateway.listen(0);

    const shown = new URL(serverUrl);
    shown.password = '';
    return {
      graphqlUrl: `http://127.0.0.1:${port}/graphql`,
      databaseServer: shown.toString(),
      databaseSource: source,
      databaseTag: `_${suffix}`,
      runtimeDir,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface GraphQLError {
  message: string;
  path?: (string | number)[];
  extensions?: Record<string, unknown>;
}

/** A client of the gateway, signed in as one user; errors in an answer are thrown. */
export class Client {
  #accessToken: string | undefined;
  #refreshToken: string | undefined;
  #expiresAt = 0;
  #refreshing: Promise<void> | undefined;

  constructor(readonly url: string) {}

  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    // Access tokens last 15 minutes; a long run (many rounds) outlives the first one.
    // One refresh for all concurrent requests: presenting a refresh token twice ends the session.
    if (this.#refreshToken && Date.now() > this.#expiresAt - 60_000) {
      this.#refreshing ??= this.#refresh().finally(() => {
        this.#refreshing = undefined;
      });
      await this.#refreshing;
    }
    return this.#post<T>(query, variables);
  }

  async signUp(): Promise<void> {
    const email = `bench-${randomBytes(6).toString('hex')}@example.test`;
    const { signUp } = await this.#post<{ signUp: Session }>(
      `mutation ($input: SignUpInput!) {
        signUp(input: $input) { accessToken accessTokenExpiresAt refreshToken userErrors { field message } }
      }`,
      { input: { email, password: 'measured twice, deployed once', name: 'Deploy Bench' } },
    );
    this.#keep(signUp, 'signUp');
  }

  async #refresh(): Promise<void> {
    const { refreshSession } = await this.#post<{ refreshSession: Session }>(
      `mutation ($input: RefreshSessionInput!) {
        refreshSession(input: $input) { accessToken accessTokenExpiresAt refreshToken userErrors { field message } }
      }`,
      { input: { refreshToken: this.#refreshToken } },
    );
    this.#keep(refreshSession, 'refreshSession');
  }

  #keep(session: Session, operation: string): void {
    if (!session.accessToken || !session.refreshToken || !session.accessTokenExpiresAt) {
      throw new Error(`${operation} refused: ${JSON.stringify(session.userErrors)}`);
    }
    this.#accessToken = session.accessToken;
    this.#refreshToken = session.refreshToken;
    this.#expiresAt = Date.parse(session.accessTokenExpiresAt);
  }

  async #post<T>(query: string, variables: Record<string, unknown>): Promise<T> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...(this.#accessToken ? { authorization: `Bearer ${this.#accessToken}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    let body: { data?: T | null; errors?: GraphQLError[] };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`gateway answered ${response.status}: ${text.slice(0, 300)}`);
    }
    if (body.errors?.length || !body.data) {
      throw new Error(
        `gateway answered ${response.status} with errors: ${JSON.stringify(body.errors ?? body)}`,
      );
    }
    return body.data;
  }
}

interface Session {
  accessToken: string | null;
  accessTokenExpiresAt: string | null;
  refreshToken: string | null;
  userErrors: { field: string[] | null; message: string }[];
}
