import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  defineSettings,
  invalidEnvironment,
  processShape,
  readEnvironment,
} from '../../subgraphs/common/config';

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

/**
 * The gateway's settings, read once at start: keys are the variables (all in .env.example).
 * Command-line flags (`--supergraph`, `--port`, `--from-subgraphs`) override their variables.
 */
export const gatewaySettings = defineSettings(
  'the gateway',
  {
    ...processShape,
    GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
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
    /** The gateway's Ed25519 private key (JWK) that signs the credentials subgraphs trust. */
    GATEWAY_PRIVATE_KEY: z.string().optional(),
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
  },
  (values, rules) => {
    rules.requiredInProduction('GATEWAY_PRIVATE_KEY');
    const tiers = values.RATE_LIMIT_TIERS;
    if (!Object.hasOwn(tiers, 'anonymous')) rules.problem(['RATE_LIMIT_TIERS'], 'needs an "anonymous" tier');
    if (!Object.hasOwn(tiers, values.RATE_LIMIT_DEFAULT_TIER)) {
      rules.problem(
        ['RATE_LIMIT_DEFAULT_TIER'],
        `"${values.RATE_LIMIT_DEFAULT_TIER}" is not in RATE_LIMIT_TIERS`,
      );
    }
    for (const [organizationId, tier] of Object.entries(values.RATE_LIMIT_ORGANIZATION_TIERS)) {
      if (!Object.hasOwn(tiers, tier))
        rules.problem(
          ['RATE_LIMIT_ORGANIZATION_TIERS', organizationId],
          `"${tier}" is not in RATE_LIMIT_TIERS`,
        );
    }
    const development = !rules.production;
    return {
      ...values,
      SUPERGRAPH_WATCH: values.SUPERGRAPH_WATCH ?? development,
      GRAPHIQL: values.GRAPHIQL ?? development,
      INTROSPECTION: values.INTROSPECTION ?? development,
    };
  },
  ['SUBGRAPH_<NAME>_URL'],
);

export type GatewayConfig = ReturnType<typeof gatewaySettings.parse> & {
  /** Routing URL overrides by subgraph name, from `SUBGRAPH_<NAME>_URL` (containers reach each other by name). */
  SUBGRAPH_URLS: Record<string, string>;
};

/** What the rate limiter reads of the gateway's settings. */
export type RateLimitConfig = Pick<
  GatewayConfig,
  | 'RATE_LIMITS_ENABLED'
  | 'RATE_LIMIT_TIERS'
  | 'RATE_LIMIT_WINDOW_SECONDS'
  | 'RATE_LIMIT_DEFAULT_TIER'
  | 'RATE_LIMIT_ORGANIZATION_TIERS'
  | 'GATEWAY_RATE_LIMIT_KEY_PREFIX'
>;

export function loadGatewayConfig(argv = process.argv.slice(2), given = process.env): GatewayConfig {
  const environment = readEnvironment(given);
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      supergraph: { type: 'string' },
      port: { type: 'string' },
      'from-subgraphs': { type: 'boolean' },
    },
    strict: true,
  });
  const config = gatewaySettings.parse({
    ...environment,
    ...(flags.supergraph ? { SUPERGRAPH_PATH: flags.supergraph } : {}),
    ...(flags.port ? { GATEWAY_PORT: flags.port } : {}),
    ...(flags['from-subgraphs'] ? { SUPERGRAPH_FROM_SUBGRAPHS: 'true' } : {}),
  });
  const urls: Record<string, string> = {};
  const problems: { path: string[]; message: string }[] = [];
  for (const [key, value] of Object.entries(environment)) {
    const match = /^SUBGRAPH_([A-Z0-9_]+)_URL$/.exec(key);
    if (!match || !value) continue;
    if (z.url().safeParse(value).success) urls[match[1]!.toLowerCase()] = value;
    else problems.push({ path: [key], message: 'Invalid URL' });
  }
  if (problems.length > 0) throw invalidEnvironment('the gateway', problems);
  return { ...config, SUBGRAPH_URLS: urls };
}
