import { existsSync } from 'node:fs';
import { z } from 'zod';

let dotEnvLoaded = false;

/**
 * The process environment, with a `.env` file of the working directory loaded under it (the
 * environment wins) and empty values treated as unset, so a copied .env.example is harmless.
 */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env === process.env && !dotEnvLoaded) {
    dotEnvLoaded = true;
    if (existsSync('.env')) process.loadEnvFile('.env');
  }
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
}

/**
 * The environment of a subgraph process, read once. Everything a subgraph can be told from
 * outside is here (and in .env.example).
 */
const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Overrides the subgraph's port from the registry (one subgraph per process/container). */
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: z.url().optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  REDIS_URL: z.url().optional(),
  /** How long a shutdown waits for requests in flight before closing connections. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  APP_VERSION: z.string().default(process.env.npm_package_version ?? '0.0.0'),
  /** The gateway's public key (an Ed25519 JWK): only credentials it signed are accepted. */
  GATEWAY_PUBLIC_KEY: z.string().optional(),
  /** Where development keys are made and kept when none is given. */
  KEYS_DIR: z.string().default('.data/keys'),
  /** The events subgraph's origin: where emitted events are relayed (its `/internal/events`). */
  EVENTS_URL: z.url().default('http://127.0.0.1:4006'),
  /**
   * Signs relayed events (Standard Webhooks, `whsec_…`); every subgraph and the events subgraph
   * share it. Development makes one under KEYS_DIR.
   */
  EVENTS_INGEST_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]{24,}$/, 'a whsec_ secret')
    .optional(),
});

export type SubgraphConfig = z.infer<typeof schema> & {
  /** `<SUBGRAPH>_DATABASE_URL` for this subgraph, if set. */
  subgraphDatabaseUrl: string | undefined;
  /** The whole environment, for the subgraph's own settings (each subgraph's config.ts). */
  env: NodeJS.ProcessEnv;
};

/** An environment a process refuses to start with, naming each variable at fault. */
export function invalidEnvironment(
  scope: string,
  problems: { path: PropertyKey[]; message: string }[],
): Error {
  const lines = problems.map((p) => `  ${p.path.map(String).join('.')}: ${p.message}`).join('\n');
  return new Error(`Invalid environment for ${scope}:\n${lines}`);
}

export function loadSubgraphConfig(
  subgraph: string,
  environment: NodeJS.ProcessEnv = process.env,
): SubgraphConfig {
  const env = readEnvironment(environment);
  const parsed = schema.safeParse(env);
  const scope = `subgraph ${subgraph}`;
  if (!parsed.success) throw invalidEnvironment(scope, parsed.error.issues);
  const ownKey = `${subgraph.toUpperCase()}_DATABASE_URL`;
  const own = env[ownKey];
  if (own !== undefined && !z.url().safeParse(own).success) {
    throw invalidEnvironment(scope, [{ path: [ownKey], message: 'Invalid URL' }]);
  }
  if (parsed.data.NODE_ENV === 'production') {
    const missing = (['GATEWAY_PUBLIC_KEY', 'EVENTS_INGEST_SECRET'] as const).filter(
      (key) => !parsed.data[key],
    );
    if (missing.length > 0) {
      throw invalidEnvironment(
        scope,
        missing.map((key) => ({ path: [key], message: 'required in production' })),
      );
    }
  }
  return { ...parsed.data, subgraphDatabaseUrl: own, env };
}
