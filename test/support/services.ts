import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createPool } from '../../db/connection';
import { newId } from '../../db/ids';
import type { Caller, Role } from '../../subgraphs/common/caller';
import { readEnvironment, subgraphSettings } from '../../subgraphs/common/config';
import type { Scope } from '../../subgraphs/common/context';
import type { SubgraphDefinition, SubgraphRuntime } from '../../subgraphs/common/definition';
import { createLogger } from '../../subgraphs/common/logger';
import type { PlatformEvent } from '../../subgraphs/common/platform-events';
import { createEventBus, type EventBus } from '../../subgraphs/common/pubsub';
import { createTestDatabase } from './database';

/**
 * One subgraph's services on a real database of their own (cloned from the migrated
 * template), built by the subgraph's own `setup` exactly as the server builds them, with no
 * GraphQL and no gateway in between: a service test calls `services.<aggregate>.<method>`
 * with a scope made by `scope(caller)` and asserts what it answers and what it stored.
 */
export interface ServiceTestbed<Services, Loaders> {
  services: Services;
  /** The scope a request of `caller` would get: that caller and fresh loaders. */
  scope(caller: Caller): Scope<Loaders>;
  /** The subgraph's database, for assertions on what was stored. */
  pool: pg.Pool;
  /** The in-process event bus the services publish on. */
  events: EventBus;
  /** The routes the subgraph serves beside GraphQL, to call as a request would. */
  routes: NonNullable<SubgraphRuntime<Services, Loaders>['routes']>;
  close(): Promise<void>;
}

/**
 * Where a testbed's outbox relays: a stand-in for the events subgraph that takes every batch,
 * so what a test emits is relayed once (and stays readable in `pgboss.job`) instead of being
 * retried against nothing until the test ends.
 */
async function startEventsSink(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume().on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function startServices<S, Services, Loaders>(
  definition: SubgraphDefinition<S, Services, Loaders>,
  env: Record<string, string> = {},
): Promise<ServiceTestbed<Services, Loaders>> {
  const database = await createTestDatabase(definition.name);
  const sink = await startEventsSink();
  const environment = readEnvironment({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    EVENTS_URL: sink.url,
    ...env,
  });
  const config = subgraphSettings(definition.name).parse(environment);
  const settings = definition.settings.parse(environment);
  const logger = createLogger(`test-${definition.name}`, config.LOG_LEVEL);
  const pool = createPool(database.url, {
    applicationName: `test-${definition.name}`,
    max: 5,
    onError: () => {},
  });
  const events = createEventBus(undefined);
  const runtime = await definition.setup({ pool, logger, events, config, settings });
  return {
    services: runtime.services,
    scope: (caller) => ({ caller, loaders: runtime.loaders() }),
    pool,
    events,
    routes: runtime.routes ?? {},
    async close() {
      await runtime.close?.();
      await pool.end();
      await sink.close();
      await database.drop();
    },
  };
}

/** A signed-in person, as the gateway vouches for them: roles per organization id. */
export function userCaller(memberships: Record<string, Role> = {}, userId = newId('usr')): Caller {
  return { kind: 'user', userId, sessionId: newId('ses'), memberships };
}

/** A program with an API key of one organization, acting with `role` for the user who made it. */
export function apiKeyCaller(
  organizationId: string,
  role: Exclude<Role, 'OWNER' | 'BILLING'>,
  userId = newId('usr'),
): Caller {
  const scopes = { VIEWER: ['READ_ONLY'], MEMBER: ['DEPLOY'], ADMIN: ['ADMIN'] } as const;
  return {
    kind: 'apiKey',
    apiKeyId: newId('key'),
    userId,
    organizationId,
    scopes: [...scopes[role]],
    memberships: { [organizationId]: role },
  };
}

export const anonymousCaller: Caller = { kind: 'anonymous', ip: '203.0.113.7' };

/** An organization id nobody has a role in yet (organizations belong to accounts). */
export const organizationId = () => newId('org');

/** A slug no other test took. */
export const uniqueSlug = (prefix = 't') => `${prefix}-${randomBytes(4).toString('hex')}`;

/**
 * The testbed of a test file: started before its tests and closed after them, reachable from
 * the file's top level (`const testbed = useServices(() => startServices(developer))`).
 */
export function useServices<Services, Loaders>(
  start: () => Promise<ServiceTestbed<Services, Loaders>>,
): ServiceTestbed<Services, Loaders> {
  let testbed: ServiceTestbed<Services, Loaders> | undefined;
  beforeAll(async () => {
    testbed = await start();
  });
  afterAll(() => testbed?.close());
  const started = () => {
    if (!testbed) throw new Error('the testbed is used before it started (in beforeAll)');
    return testbed;
  };
  return {
    get services() {
      return started().services;
    },
    get pool() {
      return started().pool;
    },
    get events() {
      return started().events;
    },
    get routes() {
      return started().routes;
    },
    scope: (caller) => started().scope(caller),
    close: () => started().close(),
  };
}

/**
 * The platform events of `type` the testbed's outbox queued, oldest first: all of them, or
 * those naming `subject` among their subjects (a value, or key/value pairs that must all match).
 */
export async function queuedEvents(
  testbed: Pick<ServiceTestbed<unknown, unknown>, 'pool'>,
  type: string,
  subject?: string | Record<string, string>,
): Promise<(PlatformEvent & { createdOn: Date })[]> {
  const { rows } = await testbed.pool.query<{ data: PlatformEvent; createdOn: Date }>(
    `SELECT data, created_on AS "createdOn" FROM pgboss.job
     WHERE name = 'platform-events' AND data->>'type' = $1 ORDER BY created_on`,
    [type],
  );
  return rows
    .filter(({ data }) => {
      if (subject === undefined) return true;
      const subjects = Object.entries(data.subjects);
      return typeof subject === 'string'
        ? subjects.some(([, value]) => value === subject)
        : Object.entries(subject).every(([key, value]) => data.subjects[key] === value);
    })
    .map(({ data, createdOn }) => ({ ...data, createdOn }));
}
