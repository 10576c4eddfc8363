import { z } from 'zod';
import { defineSettings, flag, flagOr } from '../common/config';
import type { EventConsumer } from '../common/platform-events';

const DEFAULT_RETRY_SCHEDULE = '5,300,1800,7200,18000,36000,36000,36000,36000,36000,36000,36000';

/** The events subgraph's own settings, read from the same environment as the kit's (see .env.example). */
export const eventsSettings = defineSettings(
  'subgraph events',
  {
    /** 32 random bytes, base64: encrypts webhook signing secrets at rest. Development keeps one under KEYS_DIR. */
    EVENTS_ENCRYPTION_KEY: z.string().optional(),
    /** Seconds between a failed attempt and the next, one per retry; after the last, the delivery is FAILED. */
    WEBHOOK_RETRY_SCHEDULE: z
      .string()
      .default(DEFAULT_RETRY_SCHEDULE)
      .transform((value, ctx) => {
        const delays = value.split(',').map((part) => Number(part.trim()));
        if (delays.length === 0 || delays.some((d) => !Number.isFinite(d) || d < 0 || d > 7 * 86_400)) {
          ctx.addIssue({ code: 'custom', message: 'comma-separated seconds, each between 0 and 604800' });
          return z.NEVER;
        }
        return delays;
      }),
    /** Each retry delay varies by up to this fraction either way, so failures of many receivers spread out. */
    WEBHOOK_RETRY_JITTER: z.coerce.number().min(0).max(1).default(0.2),
    /** A receiver's `Retry-After` is honoured up to this many seconds. */
    WEBHOOK_RETRY_AFTER_MAX_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .default(86_400),
    /** An endpoint whose deliveries failed without a success for this long is disabled (FAILING). */
    WEBHOOK_DISABLE_AFTER_HOURS: z.coerce.number().positive().default(120),
    /** One attempt, connection to last byte read. */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
    /**
     * Whether endpoints may point at loopback, private and link-local addresses. On by default
     * outside production (a receiver on localhost), where it would let anyone who can create an
     * endpoint probe the internal network.
     */
    WEBHOOKS_ALLOW_PRIVATE_NETWORKS: flag,
    /** Attempts in flight at once in this process, all endpoints together. */
    WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(64),
    /** Attempts in flight to one endpoint at once: a slow receiver holds no more slots than this. Default: a quarter of WEBHOOK_CONCURRENCY. */
    WEBHOOK_CONCURRENCY_PER_ENDPOINT: z.coerce.number().int().min(1).max(1000).optional(),
    /** How often idle workers look for due deliveries (ingest in this process wakes them at once). */
    WEBHOOK_POLL_INTERVAL_MS: z.coerce.number().int().min(10).max(60_000).default(1_000),
    /** Endpoints per organization. */
    WEBHOOK_ENDPOINTS_PER_ORGANIZATION: z.coerce.number().int().min(1).max(1000).default(20),
    /** How long the secret a rotation replaced keeps signing beside the new one. */
    WEBHOOK_SECRET_OVERLAP_HOURS: z.coerce
      .number()
      .min(0)
      .max(24 * 30)
      .default(24),
    /**
     * Where the deployments subgraph takes the events it acts on (`eventConsumers`): its origin as
     * this process reaches it. Required in production.
     */
    DEPLOYMENTS_URL: z.url().optional(),
    /** Largest relayed batch `/internal/events` reads. */
    EVENTS_INGEST_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(5 * 1024 * 1024),
  },
  (values, rules) => {
    rules.requiredInProduction('EVENTS_ENCRYPTION_KEY', 'DEPLOYMENTS_URL');
    const { DEPLOYMENTS_URL, ...rest } = values;
    const consumerUrls: Record<EventConsumer, string> = {
      // The development port of deployments (the registry's), as EVENTS_URL defaults to events'.
      deployments: DEPLOYMENTS_URL ?? 'http://127.0.0.1:4002',
    };
    return {
      ...rest,
      WEBHOOKS_ALLOW_PRIVATE_NETWORKS: flagOr(values.WEBHOOKS_ALLOW_PRIVATE_NETWORKS, !rules.production),
      WEBHOOK_CONCURRENCY_PER_ENDPOINT:
        values.WEBHOOK_CONCURRENCY_PER_ENDPOINT ?? Math.max(1, Math.floor(values.WEBHOOK_CONCURRENCY / 4)),
      /** The origin of each consumer of events: typed by `eventConsumers`, so a new consumer must be given one. */
      EVENT_CONSUMER_URLS: consumerUrls,
    };
  },
);

export type EventsSettings = ReturnType<typeof eventsSettings.parse>;
