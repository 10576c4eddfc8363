import { existsSync } from 'node:fs';
import { z } from 'zod';

let dotEnvLoaded = false;

/**
 * The process environment, with a `.env` file of the working directory loaded under it (the
 * environment wins) and empty values treated as unset, so a copied .env.example is harmless.
 * The one place outside config modules that reads `process.env` (a lint rule holds the rest).
 */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env === process.env && !dotEnvLoaded) {
    dotEnvLoaded = true;
    if (existsSync('.env')) process.loadEnvFile('.env');
  }
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
}

/** Construct sends nothing to third parties; Apollo's libraries read this variable themselves. */
export function disableApolloTelemetry(): void {
  process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';
}

/**
 * The machine's PATH, where the runtime finds git, node and npm for what it starts. Not a
 * setting: the system's own, read here because only config modules read the environment.
 */
export const machinePath = (): string => process.env.PATH || '/usr/local/bin:/usr/bin:/bin';

/** What a problem with one variable looks like (zod's issues have this shape too). */
export interface SettingsProblem {
  path: PropertyKey[];
  message: string;
}

/** An environment a process refuses to start with, naming each variable at fault. */
export function invalidEnvironment(scope: string, problems: SettingsProblem[]): Error {
  const lines = problems.map((p) => `  ${p.path.map(String).join('.')}: ${p.message}`).join('\n');
  return new Error(`Invalid environment for ${scope}:\n${lines}`);
}

/** What `finish` may check and derive once every variable parsed on its own. */
export interface SettingsRules<V> {
  /** NODE_ENV is `production`: secrets must be given, development conveniences are off. */
  production: boolean;
  /** Reports the variables among `keys` that are unset, in production only. */
  requiredInProduction(...keys: (keyof V & string)[]): void;
  /** Reports a problem with one variable (or a key inside it). */
  problem(path: PropertyKey[], message: string): void;
}

/**
 * The settings one process (or one subgraph in it) reads from the environment: a zod shape
 * whose keys are the variables themselves, so a setting reads as its variable does
 * (`settings.BUILD_CONCURRENCY`), `.env.example` can be checked against `variables`, and a
 * typo fails at start-up naming the variable. `finish` applies the rules that span variables
 * (what production requires, defaults that depend on it) and may add derived values, keyed
 * likewise in UPPER_SNAKE.
 */
export interface Settings<T> {
  /** Every variable read, for `.env.example` and its check; `<NAME>` marks a family (`SUBGRAPH_<NAME>_URL`). */
  readonly variables: readonly string[];
  /** Parses `env` (already read with `readEnvironment`); throws, naming each variable at fault. */
  parse(env: NodeJS.ProcessEnv): T;
}

export function defineSettings<Shape extends z.ZodRawShape, T = z.output<z.ZodObject<Shape>>>(
  scope: string,
  shape: Shape,
  finish?: (values: z.output<z.ZodObject<Shape>>, rules: SettingsRules<z.output<z.ZodObject<Shape>>>) => T,
  families: readonly string[] = [],
): Settings<T> {
  const schema = z.object(shape);
  return {
    variables: [...Object.keys(shape), ...families],
    parse(env) {
      const parsed = schema.safeParse(env);
      if (!parsed.success) throw invalidEnvironment(scope, parsed.error.issues);
      if (!finish) return parsed.data as T;
      const problems: SettingsProblem[] = [];
      const production = env.NODE_ENV === 'production';
      const values = parsed.data;
      const result = finish(values, {
        production,
        requiredInProduction: (...keys) => {
          if (!production) return;
          for (const key of keys)
            if (values[key] === undefined) problems.push({ path: [key], message: 'required in production' });
        },
        problem: (path, message) => problems.push({ path, message }),
      });
      if (problems.length > 0) throw invalidEnvironment(scope, problems);
      return result;
    },
  };
}

/** `'true'`/`'false'`, or unset for a default that depends on NODE_ENV (see `flagOr`). */
export const flag = z.enum(['true', 'false']).optional();

/** A `flag`'s value, `fallback` when unset. */
export const flagOr = (value: 'true' | 'false' | undefined, fallback: boolean) =>
  value === undefined ? fallback : value === 'true';

export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');
export const nodeEnv = z.enum(['development', 'production', 'test']).default('development');
export const port = z.coerce.number().int().min(0).max(65535);

/** Settings every process shares (the gateway's too). */
export const processShape = {
  NODE_ENV: nodeEnv,
  LOG_LEVEL: logLevel,
  /** Interface to listen on. */
  HOST: z.string().default('0.0.0.0'),
  /** How long a shutdown waits for requests in flight before closing connections. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** Reported by GET /version (npm's package version when started through npm). */
  APP_VERSION: z.string().default(process.env.npm_package_version ?? '0.0.0'),
  /** Where development keys are made and kept when none is given. */
  KEYS_DIR: z.string().default('.data/keys'),
  REDIS_URL: z.url().optional(),
};

/** The variable that names one subgraph's own database, e.g. `ACCOUNTS_DATABASE_URL`. */
export const ownDatabaseVariable = (subgraph: string) => `${subgraph.toUpperCase()}_DATABASE_URL`;

const subgraphShape = {
  ...processShape,
  /** Overrides the subgraph's port from the registry (one subgraph per process/container). */
  PORT: port.optional(),
  DATABASE_URL: z.url().optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  /** The gateway's public key (an Ed25519 JWK): only credentials it signed are accepted. */
  GATEWAY_PUBLIC_KEY: z.string().optional(),
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
};

type KitValues = z.output<z.ZodObject<typeof subgraphShape>>;

/** What the kit reads for every subgraph, before the subgraph's own settings. */
export type SubgraphConfig = KitValues & {
  /** This subgraph's own database (`<SUBGRAPH>_DATABASE_URL`), used as given; wins over DATABASE_URL. */
  SUBGRAPH_DATABASE_URL: string | undefined;
};

/** The kit's settings of one subgraph: the shared ones and its own database's variable. */
export function subgraphSettings(subgraph: string): Settings<SubgraphConfig> {
  const own = ownDatabaseVariable(subgraph);
  return defineSettings(
    `subgraph ${subgraph}`,
    { ...subgraphShape, [own]: z.url().optional() },
    (values, rules) => {
      rules.requiredInProduction('GATEWAY_PUBLIC_KEY', 'EVENTS_INGEST_SECRET');
      const { [own]: ownUrl, ...kit } = values as unknown as KitValues & Record<string, string | undefined>;
      return { ...(kit as unknown as KitValues), SUBGRAPH_DATABASE_URL: ownUrl };
    },
  );
}
