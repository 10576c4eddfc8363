import { parseArgs } from 'node:util';
import { z } from 'zod';
import { invalidEnvironment, readEnvironment } from '../../subgraphs/common/config';

/** A variable holding JSON, checked against `shape` (a typo fails at start-up, naming the variable). */
const json = <T extends z.ZodType>(shape: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(shape);

const tierName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'a tier name: lowercase letters, digits, - and _');

/** The gateway's environment and command line, read once. Every variable is in .env.example. */
const env = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('0.0.0.0'),
  SUPERGRAPH_PATH: z.string().default('schema/supergraph.graphql'),
  /** Reload the supergraph file when it changes (default: on in development). */
  SUPERGRAPH_WATCH: z.stringbool().optional(),
  /** Compose at start-up from the running subgraphs listed in supergraph.yaml, instead of the file. */
  SUPERGRAPH_FROM_SUBGRAPHS: z.stringbool().default(false),
  /** Whole-request budget of one subgraph fetch: well under a client's usual 30 s. */
  SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  MAX_DEPTH: z.coerce.number().int().min(1).default(15),
  MAX_ALIASES: z.coerce.number().int().min(0).default(30),
  MAX_TOKENS: z.coerce.number().int().min(100).default(5_000),
  MAX_COST: z.coerce.number().int().min(100).default(20_000),
  MAX_DIRECTIVES: z.coerce.number().int().min(1).default(50),
  /** GraphiQL and introspection (default: on in development, off in production). */
  GRAPHIQL: z.stringbool().optional(),
  INTROSPECTION: z.stringbool().optional(),
  APP_VERSION: z.string().default(process.env.npm_package_version ?? '0.0.0'),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** The gateway's Ed25519 private key (JWK) that signs the credentials subgraphs trust. */
  GATEWAY_PRIVATE_KEY: z.string().optional(),
  KEYS_DIR: z.string().default('.data/keys'),
  /** Accounts' JWKS (default: /.well-known/jwks.json at the accounts subgraph's origin). */
  JWKS_URL: z.url().optional(),
  ACCESS_TOKEN_ISSUER: z.string().default('construct-accounts'),
  ACCESS_TOKEN_AUDIENCE: z.string().default('construct'),
  /** How long a user's memberships and session state are trusted before asking accounts again. */
  CALLER_CACHE_MS: z.coerce.number().int().min(0).default(5_000),
  /** Subscriptions one WebSocket may hold at once. */
  MAX_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).max(10_000).default(100),
  /** How often the gateway pings WebSocket clients; one that misses a pong is disconnected. */
  WS_KEEPALIVE_MS: z.coerce.number().int().min(1_000).default(12_000),
  /** Take the client address from X-Forwarded-For (behind a load balancer you run). */
  TRUST_PROXY: z.stringbool().default(false),
  REDIS_URL: z.url().optional(),
  /**
   * How long a resolved API key (its organization, scopes and its creator's role) is trusted
   * before asking the developer and accounts subgraphs again; unknown keys are remembered as
   * long. Revocation and role changes drop it at once through pub/sub (across replicas with Redis).
   */
  API_KEY_CACHE_MS: z.coerce.number().int().min(0).default(5_000),
  /** Per-principal rate limits on GraphQL operations (see gateway/src/rate-limits.ts). */
  RATE_LIMITS_ENABLED: z.stringbool().default(true),
  /**
   * Points per window for each plan tier, as a JSON object. `anonymous` applies to callers without
   * credentials (counted per client address); the others are named by RATE_LIMIT_DEFAULT_TIER and
   * RATE_LIMIT_ORGANIZATION_TIERS. A query or subscription root field costs 1 point, a mutation's 5,
   * and 100 page fetches of nested lists 1 more (`operationPoints`).
   */
  RATE_LIMIT_TIERS: json(z.record(tierName, z.number().int().min(1).max(1_000_000_000))).default({
    anonymous: 300,
    free: 1_200,
    pro: 6_000,
    enterprise: 30_000,
  }),
  /** The window the tiers' points are counted over; a caller's budget is whole again when it ends. */
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** The tier of signed-in users and of API keys whose organization has no tier of its own. */
  RATE_LIMIT_DEFAULT_TIER: tierName.default('free'),
  /**
   * Tiers of organizations' API keys, as a JSON object `{ "<organization id>": "<tier>" }`. A stopgap
   * until billing sets a tier from each organization's plan.
   */
  RATE_LIMIT_ORGANIZATION_TIERS: json(z.record(z.string().min(1).max(100), tierName)).default({}),
  /** Prefix of the counters in Redis: gateways that share a prefix (and a Redis) share counts. */
  GATEWAY_RATE_LIMIT_KEY_PREFIX: z.string().min(1).max(100).default('construct:gateway:rate-limit'),
});

export interface GatewayConfig {
  env: 'development' | 'production' | 'test';
  logLevel: string;
  port: number;
  host: string;
  supergraphPath: string;
  watchSupergraph: boolean;
  composeFromSubgraphs: boolean;
  /** Routing URL overrides by subgraph name, from `SUBGRAPH_<NAME>_URL` (containers reach each other by name). */
  subgraphUrls: Record<string, string>;
  subgraphTimeoutMs: number;
  maxBodyBytes: number;
  limits: { depth: number; aliases: number; tokens: number; cost: number; directives: number };
  graphiql: boolean;
  introspection: boolean;
  version: string;
  shutdownGraceMs: number;
  gatewayPrivateKey: string | undefined;
  keysDir: string;
  jwksUrl: string | undefined;
  accessToken: { issuer: string; audience: string };
  callerCacheMs: number;
  maxSubscriptionsPerConnection: number;
  wsKeepAliveMs: number;
  trustProxy: boolean;
  redisUrl: string | undefined;
  apiKeyCacheMs: number;
  rateLimits: RateLimitConfig;
}

export interface RateLimitConfig {
  enabled: boolean;
  /** Points per window, by tier (`anonymous` always among them). */
  tiers: Record<string, number>;
  windowSeconds: number;
  defaultTier: string;
  /** Tier of each organization's API keys, where it is not the default. */
  organizationTiers: Record<string, string>;
  keyPrefix: string;
}

export function loadGatewayConfig(argv = process.argv.slice(2), given = process.env): GatewayConfig {
  const environment = readEnvironment(given);
  const parsed = env.safeParse(environment);
  if (!parsed.success) throw invalidEnvironment('the gateway', parsed.error.issues);
  const e = parsed.data;
  const { values } = parseArgs({
    args: argv,
    options: {
      supergraph: { type: 'string' },
      port: { type: 'string' },
      'from-subgraphs': { type: 'boolean' },
    },
    strict: true,
  });
  const development = e.NODE_ENV !== 'production';
  if (!development && !e.GATEWAY_PRIVATE_KEY) {
    throw invalidEnvironment('the gateway', [
      { path: ['GATEWAY_PRIVATE_KEY'], message: 'required in production' },
    ]);
  }
  const unknownTiers = [
    ...(Object.hasOwn(e.RATE_LIMIT_TIERS, 'anonymous')
      ? []
      : [{ path: ['RATE_LIMIT_TIERS'], message: 'needs an "anonymous" tier' }]),
    ...(Object.hasOwn(e.RATE_LIMIT_TIERS, e.RATE_LIMIT_DEFAULT_TIER)
      ? []
      : [
          {
            path: ['RATE_LIMIT_DEFAULT_TIER'],
            message: `"${e.RATE_LIMIT_DEFAULT_TIER}" is not in RATE_LIMIT_TIERS`,
          },
        ]),
    ...Object.entries(e.RATE_LIMIT_ORGANIZATION_TIERS)
      .filter(([, tier]) => !Object.hasOwn(e.RATE_LIMIT_TIERS, tier))
      .map(([organizationId, tier]) => ({
        path: ['RATE_LIMIT_ORGANIZATION_TIERS', organizationId],
        message: `"${tier}" is not in RATE_LIMIT_TIERS`,
      })),
  ];
  if (unknownTiers.length > 0) throw invalidEnvironment('the gateway', unknownTiers);
  const subgraphUrls: Record<string, string> = {};
  for (const [key, value] of Object.entries(environment)) {
    const match = /^SUBGRAPH_([A-Z0-9_]+)_URL$/.exec(key);
    if (match && value) subgraphUrls[match[1]!.toLowerCase()] = z.url().parse(value);
  }
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    port: values.port ? z.coerce.number().int().min(0).max(65535).parse(values.port) : e.GATEWAY_PORT,
    host: e.HOST,
    supergraphPath: values.supergraph ?? e.SUPERGRAPH_PATH,
    watchSupergraph: e.SUPERGRAPH_WATCH ?? development,
    composeFromSubgraphs: values['from-subgraphs'] ?? e.SUPERGRAPH_FROM_SUBGRAPHS,
    subgraphUrls,
    subgraphTimeoutMs: e.SUBGRAPH_TIMEOUT_MS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    limits: {
      depth: e.MAX_DEPTH,
      aliases: e.MAX_ALIASES,
      tokens: e.MAX_TOKENS,
      cost: e.MAX_COST,
      directives: e.MAX_DIRECTIVES,
    },
    graphiql: e.GRAPHIQL ?? development,
    introspection: e.INTROSPECTION ?? development,
    version: e.APP_VERSION,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    gatewayPrivateKey: e.GATEWAY_PRIVATE_KEY,
    keysDir: e.KEYS_DIR,
    jwksUrl: e.JWKS_URL,
    accessToken: { issuer: e.ACCESS_TOKEN_ISSUER, audience: e.ACCESS_TOKEN_AUDIENCE },
    callerCacheMs: e.CALLER_CACHE_MS,
    maxSubscriptionsPerConnection: e.MAX_SUBSCRIPTIONS_PER_CONNECTION,
    wsKeepAliveMs: e.WS_KEEPALIVE_MS,
    trustProxy: e.TRUST_PROXY,
    redisUrl: e.REDIS_URL,
    apiKeyCacheMs: e.API_KEY_CACHE_MS,
    rateLimits: {
      enabled: e.RATE_LIMITS_ENABLED,
      tiers: e.RATE_LIMIT_TIERS,
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
      defaultTier: e.RATE_LIMIT_DEFAULT_TIER,
      organizationTiers: e.RATE_LIMIT_ORGANIZATION_TIERS,
      keyPrefix: e.GATEWAY_RATE_LIMIT_KEY_PREFIX,
    },
  };
}
