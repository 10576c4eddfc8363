import { hostname } from 'node:os';
import { z } from 'zod';
import { defineSettings, flag, flagOr, port } from '../common/config';

const seconds = (fallback: number) => z.coerce.number().int().min(1).max(86_400).default(fallback);

/** Deployments' own settings, read from the same environment as the kit's (see .env.example). */
export const deploymentsSettings = defineSettings(
  'subgraph deployments',
  {
    /** 32 random bytes, base64: encrypts environment variables at rest. Development keeps one under KEYS_DIR. */
    DEPLOYMENTS_ENCRYPTION_KEY: z.string().optional(),
    /** Where deployments build and run. `local`: child processes on this machine. */
    RUNTIME: z.enum(['local']).default('local'),
    /** The local runtime's work directories, builds and caches. */
    RUNTIME_DIR: z.string().default('.data/runtime'),
    /** Names this runtime node: builds it claimed and never finished are started over when it comes back. */
    RUNTIME_NODE_ID: z.string().min(1).default(hostname()),
    /**
     * Whether projects may deploy from paths and file:// URLs on this machine. On by default
     * outside production, where it lets anyone who can create a project read the server's disk.
     */
    RUNTIME_ALLOW_LOCAL_SOURCES: flag,
    /** Builds running at once in this process, all organizations together. */
    BUILD_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
    /** Builds running at once per organization; more wait in QUEUED. */
    BUILDS_PER_ORGANIZATION: z.coerce.number().int().min(1).max(64).default(2),
    SOURCE_TIMEOUT_SECONDS: seconds(120),
    INSTALL_TIMEOUT_SECONDS: seconds(600),
    BUILD_TIMEOUT_SECONDS: seconds(900),
    START_TIMEOUT_SECONDS: seconds(60),
    HEALTHCHECK_TIMEOUT_SECONDS: seconds(60),
    /** An app that crashes is restarted with backoff this many times in a row before it stays CRASHED. */
    RESTART_MAX_RETRIES: z.coerce.number().int().min(0).max(100).default(5),
    /** A build's claim lapses after this long without a heartbeat (its process died): it is started over. */
    BUILD_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(30),
    /** The edge router's port (0: any free port). */
    EDGE_PORT: port.default(4080),
    EDGE_HOST: z.string().optional(),
    /** Deployments answer at `<deployment>.<base>` and projects at `<project>.<base>`. */
    EDGE_BASE_DOMAIN: z.string().min(1).default('localhost'),
    /** How URLs handed to users reach the edge (a TLS proxy in front makes it https on 443). */
    EDGE_PUBLIC_SCHEME: z.enum(['http', 'https']).default('http'),
    EDGE_PUBLIC_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    /** Where upload URLs point: this subgraph as clients reach it. Default: http://localhost:<port>. */
    DEPLOYMENTS_PUBLIC_URL: z.url().optional(),
    UPLOAD_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(100 * 1024 * 1024),
    UPLOAD_TTL_MINUTES: z.coerce.number().int().min(1).max(1440).default(15),
  },
  (values, rules) => {
    rules.requiredInProduction('DEPLOYMENTS_ENCRYPTION_KEY');
    return {
      ...values,
      RUNTIME_ALLOW_LOCAL_SOURCES: flagOr(values.RUNTIME_ALLOW_LOCAL_SOURCES, !rules.production),
    };
  },
);

export type DeploymentsSettings = ReturnType<typeof deploymentsSettings.parse>;
