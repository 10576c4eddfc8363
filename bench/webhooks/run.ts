/**
 * Webhook delivery benchmark: events ingested as the outbox relay sends them, fanned out to
 * endpoints on a local receiver by the events subgraph (its own process, production settings),
 * against a plain loop in the same run that signs and POSTs the same bodies to the same receiver
 * with the same concurrency and no database (the ceiling). See bench/README.md.
 *
 *   tsx bench/webhooks/run.ts [--events 10000] [--endpoints 10] [--rate 60] [--batch 100]
 *                             [--concurrency 64] [--only construct|baseline]
 *
 * `--rate` is events per second (each fans out to every endpoint); 0 sends everything at once
 * (a backlog: throughput, not latency). Database server: BENCH_DATABASE_URL, else DATABASE_URL,
 * else the embedded PostgreSQL under .data/. A fresh database is created and dropped.
 */

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { Agent } from 'undici';
import { dropDatabase, embeddedPostgres, ensureDatabase, withDatabase } from '../../db/connection';
import { newId } from '../../db/ids';
import type { Caller } from '../../subgraphs/common/caller';
import { CREDENTIAL_HEADER, CredentialMinter } from '../../subgraphs/common/credential';
import { importKeyPair } from '../../subgraphs/common/keys';
import { INGEST_PATH } from '../../subgraphs/common/outbox';
import type { PlatformEvent } from '../../subgraphs/common/platform-events';
import { benchVariable, integerOption } from '../common/options';
import {
  type Child,
  describeFailure,
  runBenchmark,
  startChild,
  stopChild,
  waitForReady,
} from '../common/processes';

const GOAL_DELIVERIES_PER_SECOND = 500;
const GOAL_P99_MS = 2000;
/** No new delivery for this long after the last event was sent: whatever is missing is lost. */
const STALL_MS = 30_000;

interface Config {
  events: number;
  endpoints: number;
  rate: number;
  batch: number;
  concurrency: number;
  runs: ('baseline' | 'construct')[];
  port: number;
}

function readConfig(): Config {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      endpoints: { type: 'string' },
      rate: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      only: { type: 'string' },
    },
  });
  const only = values.only ?? benchVariable('BENCH_ONLY');
  if (only !== undefined && only !== 'construct' && only !== 'baseline') {
    throw new Error(`--only: expected construct or baseline, got ${only}`);
  }
  return {
    events: integerOption(values.events, 'BENCH_EVENTS', 10_000, 1, 1_000_000),
    endpoints: integerOption(values.endpoints, 'BENCH_ENDPOINTS', 10, 1, 20),
    rate: integerOption(values.rate, 'BENCH_RATE', 60, 0, 100_000),
    batch: integerOption(values.batch, 'BENCH_BATCH', 100, 1, 1000),
    concurrency: integerOption(values.concurrency, 'BENCH_CONCURRENCY', 64, 1, 1000),
    runs: only ? [only] : ['baseline', 'construct'],
    port: integerOption(undefined, 'BENCH_EVENTS_PORT', 4606, 1, 65535),
  };
}

// ---------------------------------------------------------------------------------------------
// The receiver: counts every delivery per (endpoint, webhook-id) and times it from occurredAt.
// ---------------------------------------------------------------------------------------------

interface Receiver {
  server: Server;
  origin: string;
  /** Resets the counts for a new run. */
  reset(expectedIds: Map<string, number>): void;
  received: () => number;
  distinct: () => number;
  latencies: () => number[];
  firstAt: () => number;
  lastAt: () => number;
}

async function startReceiver(): Promise<Receiver> {
  let seen = new Map<string, number>();
  let occurred = new Map<string, number>();
  let latencies: number[] = [];
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const now = Date.now();
      const id = String(req.headers['webhook-id']);
      const key = `${req.url}\u0000${id}`;
      const count = (seen.get(key) ?? 0) + 1;
      seen.set(key, count);
      received++;
      firstAt ||= now;
      lastAt = now;
      // A repeat is not a delivery: only the first arrival is timed.
      const at = occurred.get(id);
      if (count === 1 && at !== undefined) latencies.push(now - at);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    reset(expected) {
      seen = new Map();
      occurred = expected;
      latencies = [];
      received = 0;
      firstAt = 0;
      lastAt = 0;
    },
    received: () => received,
    distinct: () => seen.size,
    latencies: () => latencies,
    firstAt: () => firstAt,
    lastAt: () => lastAt,
  };
}

// ---------------------------------------------------------------------------------------------
// Events, paced as the relays would send them
// ---------------------------------------------------------------------------------------------

function makeEvent(organizationId: string, n: number): PlatformEvent {
  return {
    id: `evt_${randomUUID().replaceAll('-', '')}`,
    type: 'deployment.ready',
    organizationId,
    actor: { kind: 'system', userId: null, apiKeyId: null },
    source: 'bench',
    subjects: { projectId: 'prj_01JBENCH000000000000000000', deploymentId: `dpl_${n}` },
    payload: { n, url: 'https://web-abc123.example.app', durationMs: 48_213 },
    occurredAt: '',
  };
}

/**
 * Sends every event in batches, `rate` events a second (all at once when 0), stamping each
 * with the time it is sent. Each batch is handed to `send`; sends overlap at most `parallel`.
 */
async function pace(
  events: PlatformEvent[],
  config: Config,
  occurred: Map<string, number>,
  send: (batch: PlatformEvent[]) => Promise<void>,
  parallel: number,
): Promise<number> {
  const started = Date.now();
  // Paced: small batches every 100 ms, as a relay that polls often would send them.
  const perTick =
    config.rate === 0 ? config.batch : Math.max(1, Math.min(config.batch, Math.round(config.rate / 10)));
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < events.length; i += perTick) {
    if (config.rate > 0) {
      const due = started + (i / config.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const batch = events.slice(i, i + perTick);
    const now = Date.now();
    for (const event of batch) {
      event.occurredAt = new Date(now).toISOString();
      occurred.set(event.id, now);
    }
    const sending = send(batch).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
    if (inFlight.size >= parallel) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return Date.now() - started;
}

async function waitForDeliveries(receiver: Receiver, expected: number): Promise<void> {
  let last = -1;
  let lastChange = Date.now();
  while (receiver.distinct() < expected) {
    if (receiver.received() !== last) {
      last = receiver.received();
      lastChange = Date.now();
    } else if (Date.now() - lastChange > STALL_MS) {
      return;
    }
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// The two runs
// ---------------------------------------------------------------------------------------------

interface Result {
  name: string;
  expected: number;
  delivered: number;
  duplicates: number;
  seconds: number;
  sendSeconds: number;
  latencies: number[];
  note?: string;
}

/** What the receiver saw of a run that started at `started` and spent `sendMs` sending. */
function resultOf(
  name: string,
  receiver: Receiver,
  run: { expected: number; started: number; sendMs: number },
): Result {
  return {
    name,
    expected: run.expected,
    delivered: receiver.distinct(),
    duplicates: receiver.received() - receiver.distinct(),
    seconds: (receiver.lastAt() - run.started) / 1000,
    sendSeconds: run.sendMs / 1000,
    latencies: [...receiver.latencies()],
  };
}

/** The ceiling: sign and POST each (event, endpoint) straight to the receiver, no database. */
async function runBaseline(config: Config, receiver: Receiver, organizationId: string): Promise<Result> {
  const endpoints = Array.from({ length: config.endpoints }, (_, i) => ({
    url: new URL(`/endpoint-${i}`, receiver.origin),
    signer: new Webhook(`whsec_${randomBytes(32).toString('base64')}`),
  }));
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const events = Array.from({ length: config.events }, (_, n) => makeEvent(organizationId, n));
  const occurred = new Map<string, number>();
  receiver.reset(occurred);
  const expected = events.length * endpoints.length;

  // One queue of deliveries worked by `concurrency` loops, as the dispatcher's slots are.
  const queue: (() => Promise<void>)[] = [];
  let waiting: (() => void) | undefined;
  let closed = false;
  const workers = Array.from({ length: config.concurrency }, async () => {
    for (;;) {
      const job = queue.shift();
      if (job) {
        await job();
        continue;
      }
      if (closed) return;
      await new Promise<void>((resolve) => {
        waiting = resolve;
      });
    }
  });
  const wakeAll = () => {
    const wake = waiting;
    waiting = undefined;
    wake?.();
  };
  // Several idle workers: wake them one after another until the queue is empty.
  const kick = setInterval(wakeAll, 1);

  const started = Date.now();
  const sendMs = await pace(
    events,
    config,
    occurred,
    async (batch) => {
      for (const event of batch) {
        const body = JSON.stringify({ ...event, source: undefined });
        for (const endpoint of endpoints) {
          queue.push(async () => {
            const now = new Date();
            const response = await agent.request({
              origin: endpoint.url.origin,
              path: endpoint.url.pathname,
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'webhook-id': event.id,
                'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
                'webhook-signature': endpoint.signer.sign(event.id, now, body),
              },
              body,
            });
            await response.body.text();
          });
        }
      }
      wakeAll();
    },
    1,
  );
  await waitForDeliveries(receiver, expected);
  closed = true;
  clearInterval(kick);
  wakeAll();
  await Promise.race([Promise.all(workers), sleep(1000)]);
  await agent.close();
  return resultOf('plain loop (ceiling)', receiver, { expected, started, sendMs });
}

async function runConstruct(config: Config, receiver: Receiver, organizationId: string): Promise<Result> {
  const given = benchVariable('BENCH_DATABASE_URL') ?? benchVariable('DATABASE_URL');
  const embedded = given ? undefined : await embeddedPostgres();
  const serverUrl = given ?? embedded!.url;
  const database = `construct_bench_events_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(serverUrl, database);
  const databaseUrl = withDatabase(serverUrl, database);

  const privateJwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  const keyPair = await importKeyPair(JSON.stringify(privateJwk));
  const ingestSecret = `whsec_${randomBytes(32).toString('base64')}`;
  let child: Child | undefined;
  try {
    child = startChild('events', 'scripts/start-subgraph.ts', ['events'], null, {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(config.port),
      EVENTS_DATABASE_URL: databaseUrl,
      DATABASE_POOL_MAX: '20',
      GATEWAY_PUBLIC_KEY: JSON.stringify(keyPair.publicJwk),
      EVENTS_INGEST_SECRET: ingestSecret,
      EVENTS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      // Required in production; no event the benchmark sends is one deployments acts on.
      DEPLOYMENTS_URL: 'http://127.0.0.1:4002',
      // The receiver is on loopback: production refuses it unless told otherwise.
      WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true',
      WEBHOOK_CONCURRENCY: String(config.concurrency),
      SHUTDOWN_GRACE_MS: '2000',
    });
    const origin = `http://127.0.0.1:${config.port}`;
    await waitForReady(child, `${origin}/health/ready`, 60_000);

    // Endpoints through the API, with a credential as the gateway would mint it.
    const caller: Caller = {
      kind: 'user',
      userId: newId('usr'),
      sessionId: newId('ses'),
      memberships: { [organizationId]: 'OWNER' },
    };
    const credential = await new CredentialMinter(keyPair).mint(caller, 'events');
    for (let i = 0; i < config.endpoints; i++) {
      const response = await fetch(`${origin}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CREDENTIAL_HEADER]: credential },
        body: JSON.stringify({
          query:
            'mutation ($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { webhookEndpoint { id } userErrors { message } } }',
          variables: {
            input: {
              organizationId,
              url: `${receiver.origin}/endpoint-${i}`,
              eventTypes: ['deployment.ready'],
            },
          },
        }),
      });
      const body = (await response.json()) as {
        data?: { createWebhookEndpoint: { webhookEndpoint: { id: string } | null } };
      };
      if (!body.data?.createWebhookEndpoint.webhookEndpoint) {
        throw new Error(`creating an endpoint failed: ${JSON.stringify(body)}`);
      }
    }

    const events = Array.from({ length: config.events }, (_, n) => makeEvent(organizationId, n));
    const occurred = new Map<string, number>();
    receiver.reset(occurred);
    const expected = events.length * config.endpoints;
    const relay = new Webhook(ingestSecret);
    const started = Date.now();
    const sendMs = await pace(
      events,
      config,
      occurred,
      async (batch) => {
        const body = JSON.stringify({ events: batch });
        const id = batch[0]!.id;
        const now = new Date();
        const response = await fetch(new URL(INGEST_PATH, origin), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
            'webhook-signature': relay.sign(id, now, body),
          },
          body,
        });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`ingest answered ${response.status}: ${text}`);
      },
      // Two relays (two emitting subgraphs) at once.
      2,
    );
    await waitForDeliveries(receiver, expected);

    // The receiver has them; their outcomes may still be on their way to the database.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    let rows: { status: string; n: string }[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      ({ rows } = await client.query<{ status: string; n: string }>(
        'SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status ORDER BY status',
      ));
      if (rows.every((row) => row.status !== 'PENDING')) break;
    }
    await client.end();
    return {
      ...resultOf('Construct events subgraph', receiver, { expected, started, sendMs }),
      note: `deliveries in the database: ${rows.map((r) => `${r.status} ${r.n}`).join(', ')}`,
    };
  } catch (error) {
    if (child) console.error(describeFailure(child));
    throw error;
  } finally {
    if (child) await stopChild(child);
    await dropDatabase(serverUrl, database).catch((error) => console.error(`  cleanup: ${error}`));
    await embedded?.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map(
      (row) =>
        `  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`,
    )
    .join('\n');
}

function report(config: Config, results: Result[]): boolean {
  const rows = [['', 'delivered/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'lost', 'duplicates', 'seconds']];
  for (const result of results) {
    const sorted = [...result.latencies].sort((a, b) => a - b);
    rows.push([
      result.name,
      (result.delivered / result.seconds).toFixed(0),
      String(percentile(sorted, 50)),
      String(percentile(sorted, 90)),
      String(percentile(sorted, 99)),
      String(sorted.at(-1) ?? '—'),
      String(result.expected - result.delivered),
      String(result.duplicates),
      result.seconds.toFixed(1),
    ]);
  }
  console.log(
    `\n${config.events} events × ${config.endpoints} endpoints = ${config.events * config.endpoints} deliveries, ` +
      `${config.rate === 0 ? 'all at once' : `${config.rate} events/s (${config.rate * config.endpoints} deliveries/s offered)`}, ` +
      `concurrency ${config.concurrency}\n`,
  );
  console.log(table(rows));
  for (const result of results) if (result.note) console.log(`\n  ${result.name}: ${result.note}`);

  const ours = results.find((r) => r.name.startsWith('Construct'));
  const ceiling = results.find((r) => r.name.startsWith('plain'));
  if (!ours) return true;
  const rate = ours.delivered / ours.seconds;
  const p99 = percentile(
    [...ours.latencies].sort((a, b) => a - b),
    99,
  );
  if (ceiling && config.rate === 0) {
    const ratio = rate / (ceiling.delivered / ceiling.seconds);
    console.log(`\n  Construct / ceiling, deliveries per second: ${ratio.toFixed(2)}`);
  } else if (ceiling) {
    const ceilingP99 = percentile(
      [...ceiling.latencies].sort((a, b) => a - b),
      99,
    );
    console.log(
      `\n  paced: p99 ${p99 - ceilingP99 >= 0 ? '+' : ''}${p99 - ceilingP99} ms against the ceiling's`,
    );
  }

  const goals = [
    [`≥ ${GOAL_DELIVERIES_PER_SECOND} deliveries/s`, rate >= GOAL_DELIVERIES_PER_SECOND],
    [`p99 < ${GOAL_P99_MS} ms`, p99 < GOAL_P99_MS],
    ['zero lost', ours.expected === ours.delivered],
    ['zero duplicates', ours.duplicates === 0],
  ] as const;
  console.log(`\n  goals: ${goals.map(([goal, met]) => `${goal} ${met ? 'met' : 'MISSED'}`).join(', ')}`);
  if (config.rate > 0 && config.rate * config.endpoints < GOAL_DELIVERIES_PER_SECOND) {
    console.log(
      `  (the offered load is below ${GOAL_DELIVERIES_PER_SECOND}/s: raise --rate to test the throughput goal)`,
    );
  }
  return goals.every(([, met]) => met);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const config = readConfig();
  const receiver = await startReceiver();
  const organizationId = newId('org');
  const results: Result[] = [];
  try {
    for (const run of config.runs) {
      console.log(`running ${run}…`);
      results.push(
        run === 'baseline'
          ? await runBaseline(config, receiver, organizationId)
          : await runConstruct(config, receiver, organizationId),
      );
    }
  } finally {
    receiver.server.close();
    receiver.server.closeAllConnections();
  }
  const met = report(config, results);
  process.exitCode = met ? 0 : 1;
}

runBenchmark(main);
