/**
 * Subscription benchmark driver: Construct's gateway against Hive Gateway, N concurrent graphql-ws
 * subscribers to `deploymentUpdated` (a field of one subgraph, with `creator { name }` from the
 * other), events published at a fixed total rate. See bench/README.md.
 *
 *   tsx bench/subscriptions/run.ts [--subscribers 1000,10000] [--rate 1000] [--distinct 100]
 *                                  [--duration 15] [--warmup 5] [--per-socket 100] [--workers 2]
 *                                  [--gateways ours,hive] [--no-pin]
 *
 * Every flag has an environment twin (BENCH_SUBSCRIBERS, BENCH_RATE, …, BENCH_PIN=0), plus
 * BENCH_SUBGRAPH_PORT_BASE (default 4400: subgraphs on 4401-4402) and BENCH_GATEWAY_PORT (4500).
 *
 * For each subscriber count, and each gateway in turn: start the gateway alone on its CPU, check
 * one subscription end to end, read its memory, open the N subscriptions from the client
 * processes, read its memory again, publish for the warm-up and the measured window, let the
 * last events arrive, collect every client's figures and the subgraphs' counters, stop it.
 */
import { fork } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { benchVariable } from '../common/options';
import {
  assertPortFree,
  type Child,
  CLOCK_TICKS,
  describeFailure,
  type MachineCpu,
  machineCpu,
  type Pinning,
  pinSelf,
  planPinning,
  runBenchmark,
  startChild,
  stopChild,
  track,
  waitForLine,
  waitForReady,
} from '../common/processes';
import type { ClientMessage, ClientReport, DriverMessage, Progress } from './client';
import { SUPERGRAPH_PATH, writeSupergraph } from './compose';
import { createHistogram, type Histogram, merge, percentile } from './histogram';
import {
  DEFAULT_SUBGRAPH_PORT_BASE,
  type DeploymentsStats,
  monotonicMs,
  OPERATION_NAME,
  SUBSCRIPTION,
  type UsersStats,
} from './model';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const RESULTS_DIR = join(import.meta.dirname, '.results');

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

type GatewayName = 'ours' | 'hive';

interface GatewaySpec {
  name: GatewayName;
  description: string;
  /** Entry file, relative to the repository root; run as `node --import tsx <entry> ...`. */
  entry: string;
  /** GET path that answers 200 once the gateway can serve. */
  readyPath: string;
  env: (config: Config) => Record<string, string>;
}

const GATEWAYS: Record<GatewayName, GatewaySpec> = {
  ours: {
    name: 'ours',
    description: 'Construct gateway (gateway/src/main.ts)',
    entry: 'gateway/src/main.ts',
    readyPath: '/health/ready',
    env: (config) => ({
      // Production needs the Ed25519 key the gateway signs subgraph credentials with: a throwaway
      // one per start, never written (these subgraphs do not check credentials anyway).
      GATEWAY_PRIVATE_KEY:
        benchVariable('GATEWAY_PRIVATE_KEY') ??
        JSON.stringify(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })),
      SUPERGRAPH_WATCH: 'false',
      // One client user hammers it; the gateways compared have no limiter.
      RATE_LIMITS_ENABLED: 'false',
      // Its default (100) would refuse a client that multiplexes more on one socket; Hive has no such limit.
      MAX_SUBSCRIPTIONS_PER_CONNECTION: String(Math.max(100, config.perSocket)),
    }),
  },
  hive: {
    name: 'hive',
    description: 'Hive Gateway 2.15.1, runtime API, graphql-ws upstream and downstream',
    entry: 'bench/subscriptions/hive.ts',
    readyPath: '/readiness',
    env: () => ({}),
  },
};

interface Config {
  subscribers: number[];
  rate: number;
  distinct: number;
  durationSec: number;
  warmupSec: number;
  perSocket: number;
  workers: number;
  gateways: GatewayName[];
  pin: boolean;
  subgraphPortBase: number;
  gatewayPort: number;
}

function readConfig(): Config {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string' },
      rate: { type: 'string' },
      distinct: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'per-socket': { type: 'string' },
      workers: { type: 'string' },
      gateways: { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
    },
  });
  const number = (flag: string | undefined, env: string, fallback: number, min = 0): number => {
    const raw = flag ?? benchVariable(env);
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`${env}: not a number ≥ ${min}: ${raw}`);
    return value;
  };
  const list = (raw: string): string[] =>
    raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  const subscribers = list(values.subscribers ?? benchVariable('BENCH_SUBSCRIBERS') ?? '1000,10000').map(
    (item) => {
      const value = Number(item.replace(/_/g, '').replace(/k$/i, '000'));
      if (!Number.isInteger(value) || value < 1)
        throw new Error(`--subscribers: not a positive integer: ${item}`);
      return value;
    },
  );
  const gateways = list(values.gateways ?? benchVariable('BENCH_GATEWAYS') ?? 'ours,hive');
  for (const name of gateways) {
    if (!(name in GATEWAYS)) throw new Error(`unknown gateway "${name}" (known: ${Object.keys(GATEWAYS)})`);
  }
  return {
    subscribers,
    rate: number(values.rate, 'BENCH_RATE', 1000, 1),
    distinct: Math.round(number(values.distinct, 'BENCH_DISTINCT', 100, 1)),
    durationSec: number(values.duration, 'BENCH_DURATION', 15, 1),
    warmupSec: number(values.warmup, 'BENCH_WARMUP', 5),
    perSocket: Math.round(number(values['per-socket'], 'BENCH_PER_SOCKET', 100, 1)),
    workers: Math.round(number(values.workers, 'BENCH_WORKERS', 2, 1)),
    gateways: gateways as GatewayName[],
    pin: !values['no-pin'] && benchVariable('BENCH_PIN') !== '0',
    subgraphPortBase: number(undefined, 'BENCH_SUBGRAPH_PORT_BASE', DEFAULT_SUBGRAPH_PORT_BASE),
    gatewayPort: number(undefined, 'BENCH_GATEWAY_PORT', 4500),
  };
}

// ---------------------------------------------------------------------------------------------
// Client processes
// ---------------------------------------------------------------------------------------------

interface Worker {
  child: Child;
  /** Replies not yet claimed by `ask`, by type; a worker answers one request at a time, in order. */
  waiting: Map<string, (message: ClientMessage) => void>;
  failure: string | undefined;
}

function startWorker(index: number): Worker {
  const process_ = fork(join(import.meta.dirname, 'client.ts'), [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    // Structured clone, so that the latency histogram crosses as a typed array, not a JSON list.
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  const worker: Worker = {
    child: track(`client ${index}`, process_),
    waiting: new Map(),
    failure: undefined,
  };
  process_.on('message', (message: ClientMessage) => {
    if (message.type === 'failed') {
      worker.failure = message.message;
      for (const deliver of worker.waiting.values()) deliver(message);
      worker.waiting.clear();
      return;
    }
    const waiter = worker.waiting.get(message.type);
    worker.waiting.delete(message.type);
    waiter?.(message);
  });
  return worker;
}

function ask<T extends ClientMessage>(
  worker: Worker,
  message: DriverMessage,
  reply: T['type'],
  timeoutMs = 30_000,
): Promise<T> {
  return new Promise((resolveReply, reject) => {
    const timer = setTimeout(() => {
      worker.waiting.delete(reply);
      reject(
        new Error(
          `${worker.child.name}: no "${reply}" within ${timeoutMs} ms\n${describeFailure(worker.child)}`,
        ),
      );
    }, timeoutMs);
    worker.waiting.set(reply, (answer) => {
      clearTimeout(timer);
      if (answer.type === 'failed') reject(new Error(`${worker.child.name}: ${answer.message}`));
      else resolveReply(answer as T);
    });
    worker.child.process.send(message);
  });
}

// ---------------------------------------------------------------------------------------------
// Process accounting (Linux /proc)
// ---------------------------------------------------------------------------------------------

/** CPU seconds (user + system) of one process; NaN once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the parenthesised command name: state(0) ppid(1) … utime(11) stime(12).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** VmRSS and VmHWM (peak) of one process, in MB. */
function memoryMb(pid: number | undefined): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024;
    return { rss: field('VmRSS'), peak: field('VmHWM') };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

/** Waits until the process uses less than 10 % of a core for a quarter second (or gives up). */
async function waitForIdle(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let before = cpuSeconds(pid);
  while (Date.now() < deadline) {
    await sleep(250);
    const after = cpuSeconds(pid);
    if ((after - before) / 0.25 < 0.1) return;
    before = after;
  }
}

// ---------------------------------------------------------------------------------------------
// Subgraph control
// ---------------------------------------------------------------------------------------------

interface Subgraphs {
  deployments: string;
  users: string;
}

async function control(subgraphs: Subgraphs, path: string, body: Record<string, number> = {}): Promise<void> {
  const response = await fetch(`${subgraphs.deployments}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status !== 200) throw new Error(`subgraph control ${path}: HTTP ${response.status}`);
  await response.arrayBuffer();
}

async function deploymentsStats(subgraphs: Subgraphs): Promise<DeploymentsStats> {
  return (await (await fetch(`${subgraphs.deployments}/__stats`)).json()) as DeploymentsStats;
}

async function usersStats(subgraphs: Subgraphs): Promise<UsersStats> {
  return (await (await fetch(`${subgraphs.users}/__stats`)).json()) as UsersStats;
}

async function resetSubgraphs(subgraphs: Subgraphs): Promise<void> {
  await control(subgraphs, '/__reset');
  await (await fetch(`${subgraphs.users}/__reset`, { method: 'POST' })).arrayBuffer();
}

/**
 * Polls until `read` has returned the same value, at least `atLeast`, for `stableMs` (or the
 * time is up); returns it.
 */
async function settle(
  read: () => Promise<number>,
  stableMs: number,
  timeoutMs: number,
  atLeast = 0,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(200);
    const next = await read();
    if (next !== value || next < atLeast) {
      value = next;
      since = Date.now();
    } else if (Date.now() - since >= stableMs) {
      break;
    }
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The end-to-end check: one subscription, one event, the right answer
// ---------------------------------------------------------------------------------------------

/**
 * Subscribes once (deployment 0), publishes one event and checks the answer: no errors, the
 * right deployment, `creator` filled in by the users subgraph, the fields in query order. It
 * also loads whatever each gateway loads lazily for its first subscription (Hive imports its
 * WebSocket transport then), so that the memory read afterwards is the idle gateway's.
 */
async function checkOneEvent(url: string, subgraphs: Subgraphs): Promise<string> {
  const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  try {
    const event = new Promise<unknown>((resolveEvent, reject) => {
      const timer = setTimeout(() => reject(new Error('no event within 15 s')), 15_000);
      client.subscribe(
        { query: SUBSCRIPTION, operationName: OPERATION_NAME, variables: { id: 'd-0' } },
        {
          next: (result) => {
            clearTimeout(timer);
            resolveEvent(result);
          },
          error: (error) => {
            clearTimeout(timer);
            reject(new Error(`subscription failed: ${JSON.stringify(error)}`));
          },
          complete: () => undefined,
        },
      );
    });
    // Publish only once the gateway has subscribed upstream; it would be lost before that.
    const upstream = async (): Promise<number> => (await deploymentsStats(subgraphs)).activeSubscriptions;
    const deadline = Date.now() + 15_000;
    while ((await upstream()) < 1) {
      if (Date.now() > deadline) throw new Error('the gateway did not subscribe to the deployments subgraph');
      await sleep(50);
    }
    await control(subgraphs, '/__publish', { index: 0 });
    const result = (await event) as {
      data?: { deploymentUpdated?: Record<string, unknown> };
      errors?: unknown;
    };
    const raw = JSON.stringify(result);
    const deployment = result.data?.deploymentUpdated;
    const creator = deployment?.creator as { id?: unknown; name?: unknown } | undefined;
    if (
      result.errors !== undefined ||
      deployment?.id !== 'd-0' ||
      creator?.id !== 'u-0' ||
      creator?.name !== 'User 0' ||
      Object.keys(deployment).join(',') !== 'id,status,sequence,publishedAt,creator'
    ) {
      throw new Error(`unexpected event: ${raw}`);
    }
    // What must be identical between gateways: everything but the per-event values.
    return JSON.stringify({
      ...result,
      data: { deploymentUpdated: { ...deployment, status: 'any', sequence: 0, publishedAt: 0 } },
    });
  } finally {
    await client.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// One measured run: one gateway, one subscriber count
// ---------------------------------------------------------------------------------------------

interface TimelineSecond {
  second: number;
  phase: 'warm-up' | 'measured';
  gatewayCpuPercent: number;
  gatewayRssMb: number;
}

interface RunResult {
  gateway: GatewayName;
  subscribers: number;
  clientSockets: number;
  clientProcesses: number;
  startupMs: number;
  /** Client sockets opened → all acknowledged. */
  connectMs: number;
  /** First subscribe sent → the gateway's upstream subscriptions stable and the gateway idle. */
  subscribeMs: number;
  memory: {
    idleMb: number;
    subscribedMb: number;
    endMb: number;
    peakMb: number;
    /** (subscribed − idle) / subscribers. */
    perSubscriberKb: number;
  };
  upstream: {
    /** WebSocket connections the gateway opened to the deployments subgraph during the run. */
    socketsOpened: number;
    /** graphql-ws subscribe operations the subgraph received during the run. */
    subscribeOperations: number;
    peakActiveSubscriptions: number;
    /** Distinct (document, variables) among them. */
    distinctOperations: number;
  };
  windowSec: number;
  publishedInWindow: number;
  publishedPerSec: number;
  /** Deliveries the window's events owe the subscribers (each event × its deployment's subscribers). */
  expected: number;
  delivered: number;
  deliveredPerSec: number;
  missing: number;
  latencyMs: { p50: number; p95: number; p99: number; p999: number; max: number; mean: number };
  /** Entity fetches to the users subgraph per event published in the window. */
  entityFetchesPerEvent: number;
  subgraphMessagesPerEvent: number;
  errors: {
    badEvents: number;
    subscriptionErrors: number;
    completed: number;
    socketsClosed: number;
    repeated: number;
    skipped: number;
    subscriptionsWithoutEvents: number;
    samples: string[];
  };
  cpu: { gatewayPercent: number; loadSidePercent: number; foreignPercent: number; stealPercent: number };
  /** Per second of the window, by publish time: deliveries and their mean latency. */
  latencyTimeline: { second: number; events: number; meanMs: number }[];
  timeline: TimelineSecond[];
  check: string;
}

const FOREIGN_CPU_WARNING_PERCENT = 10;
/** How long after the window the last deliveries are waited for, at most. */
const DRAIN_LIMIT_MS = 15_000;

async function measure(
  spec: GatewaySpec,
  subscribers: number,
  config: Config,
  pinning: Pinning | null,
  subgraphs: Subgraphs,
  subgraphProcess: Child,
): Promise<RunResult> {
  const port = config.gatewayPort;
  await assertPortFree(port, `${spec.name} gateway`);
  await control(subgraphs, '/__publisher', { rate: 0 });
  const supergraphArg = relative(REPO_ROOT, SUPERGRAPH_PATH);
  const args = ['--supergraph', supergraphArg, '--port', String(port)];
  console.log(`\n▶ ${spec.name}, ${subscribers.toLocaleString('en')} subscribers: ${spec.description}`);
  console.log(
    `  ${pinning ? `taskset -c ${pinning.gatewayCpus} ` : ''}node --import tsx ${spec.entry} ${args.join(' ')}`,
  );
  const gateway = startChild(spec.name, spec.entry, args, pinning?.gatewayCpus ?? null, spec.env(config));
  const workers: Worker[] = [];
  try {
    const base = `http://127.0.0.1:${port}`;
    const url = `ws://127.0.0.1:${port}/graphql`;
    const pid = gateway.process.pid!;
    const startupMs = await waitForReady(gateway, `${base}${spec.readyPath}`, 60_000);
    const check = await checkOneEvent(url, subgraphs).catch((error: unknown) => {
      throw new Error(`${spec.name}: the check subscription failed: ${(error as Error).message}`);
    });
    console.log(`  ready in ${startupMs} ms; one subscription checked end to end`);

    // The check's upstream stream must be gone before counting (Hive closes an idle upstream
    // socket after 3 s), so that the counters and the idle memory are this run's alone.
    const upstreamClosedBy = Date.now() + 10_000;
    while ((await deploymentsStats(subgraphs)).socketsOpen > 0 && Date.now() < upstreamClosedBy)
      await sleep(100);
    await waitForIdle(pid);
    await resetSubgraphs(subgraphs);
    const idle = memoryMb(pid);

    const sockets = Math.ceil(subscribers / config.perSocket);
    const processCount = Math.min(config.workers, sockets);
    for (let index = 0; index < processCount; index++) workers.push(startWorker(index));
    const connectStarted = monotonicMs();
    await Promise.all(
      workers.map((worker, index) =>
        ask(
          worker,
          {
            type: 'connect',
            url,
            query: SUBSCRIPTION,
            operationName: OPERATION_NAME,
            subscriptions: subscribers,
            perSocket: config.perSocket,
            distinct: config.distinct,
            sockets: Array.from({ length: sockets }, (_, socket) => socket).filter(
              (socket) => socket % processCount === index,
            ),
          },
          'connected',
          120_000,
        ),
      ),
    );
    const connectMs = monotonicMs() - connectStarted;
    const subscribeStarted = monotonicMs();
    await Promise.all(workers.map((worker) => ask(worker, { type: 'subscribe' }, 'subscribed', 120_000)));
    // The gateway is done subscribing when it has at least one upstream subscription per distinct
    // one, their number has stopped changing, and it is idle.
    const upstreamAtLeast = Math.min(subscribers, config.distinct);
    const upstreamNow = await settle(
      async () => (await deploymentsStats(subgraphs)).activeSubscriptions,
      1500,
      120_000,
      upstreamAtLeast,
    );
    if (upstreamNow < upstreamAtLeast) {
      console.warn(
        `  warning: only ${upstreamNow} upstream subscriptions after 120 s (expected ≥ ${upstreamAtLeast})`,
      );
    }
    await waitForIdle(pid, 60_000);
    const subscribeMs = monotonicMs() - subscribeStarted;
    const subscribed = memoryMb(pid);
    const beforePublishing = await deploymentsStats(subgraphs);
    console.log(
      `  ${sockets} client sockets from ${processCount} processes connected in ${connectMs.toFixed(0)} ms; ` +
        `${subscribers} subscriptions settled in ${subscribeMs.toFixed(0)} ms; upstream: ` +
        `${beforePublishing.socketsOpen} sockets, ${beforePublishing.activeSubscriptions} subscriptions; ` +
        `RSS ${idle.rss.toFixed(0)} → ${subscribed.rss.toFixed(0)} MB`,
    );

    // One sample a second of the gateway's CPU and memory, from the first event to the last.
    const timeline: TimelineSecond[] = [];
    let phase: TimelineSecond['phase'] = 'warm-up';
    let lastCpu = cpuSeconds(pid);
    let lastAt = monotonicMs();
    const sampler = setInterval(() => {
      const cpu = cpuSeconds(pid);
      const at = monotonicMs();
      timeline.push({
        second: timeline.length + 1,
        phase,
        gatewayCpuPercent: Math.round((100 * (cpu - lastCpu) * 1000) / (at - lastAt)),
        gatewayRssMb: Math.round(memoryMb(pid).rss),
      });
      lastCpu = cpu;
      lastAt = at;
    }, 1000);

    let window: { from: number; to: number };
    let cpuBefore: { gateway: number; load: number; machine: MachineCpu; at: number };
    let cpuAfter: typeof cpuBefore;
    let usersBefore: UsersStats;
    let usersAfter: UsersStats;
    let deploymentsBefore: DeploymentsStats;
    let deploymentsAfter: DeploymentsStats;
    const loadSideCpu = (): number => {
      const driver = process.cpuUsage();
      return (
        (driver.user + driver.system) / 1e6 +
        cpuSeconds(subgraphProcess.process.pid) +
        workers.reduce((sum, worker) => sum + cpuSeconds(worker.child.process.pid), 0)
      );
    };
    try {
      await control(subgraphs, '/__publisher', { rate: config.rate, distinct: config.distinct });
      await sleep(config.warmupSec * 1000);
      const progress = await Promise.all(
        workers.map((worker) => ask<Progress>(worker, { type: 'progress' }, 'progress')),
      );
      const withEvents = progress.reduce((sum, p) => sum + p.withEvents, 0);
      if (withEvents < subscribers) {
        console.warn(
          `  warning: after the warm-up, ${subscribers - withEvents} subscriptions have had no event yet`,
        );
      }

      phase = 'measured';
      // Starts a second from now: a client busy with events may read the window message late,
      // and must not miss events already inside it.
      const from = monotonicMs() + 1000;
      window = { from, to: from + config.durationSec * 1000 };
      await control(subgraphs, '/__window', { ...window, distinct: config.distinct });
      for (const worker of workers)
        worker.child.process.send({ type: 'window', ...window } satisfies DriverMessage);
      await sleep(Math.max(0, from - monotonicMs()));
      usersBefore = await usersStats(subgraphs);
      deploymentsBefore = await deploymentsStats(subgraphs);
      cpuBefore = { gateway: cpuSeconds(pid), load: loadSideCpu(), machine: machineCpu(), at: monotonicMs() };
      await sleep(Math.max(0, window.to - monotonicMs()));
      cpuAfter = { gateway: cpuSeconds(pid), load: loadSideCpu(), machine: machineCpu(), at: monotonicMs() };
      usersAfter = await usersStats(subgraphs);
      deploymentsAfter = await deploymentsStats(subgraphs);
      await control(subgraphs, '/__publisher', { rate: 0 });
    } finally {
      clearInterval(sampler);
    }

    // Events published near the end of the window may still be on their way; a gateway far
    // behind is not waited for longer than this, and what it has not delivered by then is lost.
    const received = async (): Promise<number> =>
      (
        await Promise.all(workers.map((worker) => ask<Progress>(worker, { type: 'progress' }, 'progress')))
      ).reduce((sum, p) => sum + p.received, 0);
    await settle(received, 1000, DRAIN_LIMIT_MS);
    const end = memoryMb(pid);
    const reports = await Promise.all(
      workers.map((worker) => ask<ClientReport>(worker, { type: 'report' }, 'report', 60_000)),
    );
    const final = await deploymentsStats(subgraphs);

    const histogram: Histogram = createHistogram();
    for (const report of reports) merge(histogram, report.histogram);
    const seconds = Math.ceil(config.durationSec);
    const latencyTimeline = Array.from({ length: seconds }, (_, second) => {
      const events = reports.reduce((sum, r) => sum + (r.perSecondEvents[second] ?? 0), 0);
      const sumMs = reports.reduce((sum, r) => sum + (r.perSecondLatencySumMs[second] ?? 0), 0);
      return { second: second + 1, events, meanMs: events > 0 ? sumMs / events : Number.NaN };
    });
    const total = (pick: (report: ClientReport) => number): number =>
      reports.reduce((sum, report) => sum + pick(report), 0);

    // Subscription i follows deployment i % distinct: how many subscribers each deployment has.
    const subscribersOf = (index: number): number =>
      Math.floor(subscribers / config.distinct) + (index < subscribers % config.distinct ? 1 : 0);
    const publishedInWindow = final.publishedInWindow.reduce((sum, count) => sum + count, 0);
    const expected = final.publishedInWindow.reduce(
      (sum, count, index) => sum + count * subscribersOf(index),
      0,
    );
    const missing = Math.max(0, expected - histogram.count);
    const elapsedSec = (cpuAfter.at - cpuBefore.at) / 1000;
    const percentOfCore = (secondsOfCpu: number): number => (100 * secondsOfCpu) / elapsedSec;
    const gatewayCpuSec = cpuAfter.gateway - cpuBefore.gateway;
    const loadCpuSec = cpuAfter.load - cpuBefore.load;

    const result: RunResult = {
      gateway: spec.name,
      subscribers,
      clientSockets: total((r) => r.sockets),
      clientProcesses: workers.length,
      startupMs,
      connectMs,
      subscribeMs,
      memory: {
        idleMb: idle.rss,
        subscribedMb: subscribed.rss,
        endMb: end.rss,
        peakMb: end.peak,
        perSubscriberKb: ((subscribed.rss - idle.rss) * 1024) / subscribers,
      },
      upstream: {
        socketsOpened: final.socketsOpened,
        subscribeOperations: final.subscribeOperations,
        peakActiveSubscriptions: final.peakActiveSubscriptions,
        distinctOperations: beforePublishing.sharedStreams,
      },
      windowSec: config.durationSec,
      publishedInWindow,
      publishedPerSec: publishedInWindow / config.durationSec,
      expected,
      delivered: histogram.count,
      deliveredPerSec: histogram.count / config.durationSec,
      missing,
      latencyMs: {
        p50: percentile(histogram, 50, missing),
        p95: percentile(histogram, 95, missing),
        p99: percentile(histogram, 99, missing),
        p999: percentile(histogram, 99.9, missing),
        max: histogram.maxMs,
        mean: histogram.count > 0 ? histogram.sumMs / histogram.count : Number.NaN,
      },
      entityFetchesPerEvent:
        publishedInWindow > 0 ? (usersAfter.requests - usersBefore.requests) / publishedInWindow : Number.NaN,
      subgraphMessagesPerEvent:
        publishedInWindow > 0
          ? (deploymentsAfter.messagesSent - deploymentsBefore.messagesSent) / publishedInWindow
          : Number.NaN,
      errors: {
        badEvents: total((r) => r.badEvents),
        subscriptionErrors: total((r) => r.subscriptionErrors),
        completed: total((r) => r.completed),
        socketsClosed: total((r) => r.socketsClosed),
        repeated: total((r) => r.repeated),
        skipped: total((r) => r.skipped),
        subscriptionsWithoutEvents: total((r) => r.subscriptionsWithoutWindowEvents),
        samples: reports.flatMap((r) => r.samples).slice(0, 10),
      },
      cpu: {
        gatewayPercent: percentOfCore(gatewayCpuSec),
        loadSidePercent: percentOfCore(loadCpuSec),
        foreignPercent: Math.max(
          0,
          percentOfCore(
            cpuAfter.machine.busySeconds - cpuBefore.machine.busySeconds - gatewayCpuSec - loadCpuSec,
          ),
        ),
        stealPercent: percentOfCore(cpuAfter.machine.stealSeconds - cpuBefore.machine.stealSeconds),
      },
      latencyTimeline,
      timeline,
      check,
    };
    console.log(
      `  measured ${config.durationSec}s: ${result.deliveredPerSec.toFixed(0)} events/s delivered ` +
        `(${result.publishedPerSec.toFixed(0)}/s published), p50 ${fmt(result.latencyMs.p50)} ms, ` +
        `p99 ${fmt(result.latencyMs.p99)} ms, missing ${result.missing}; CPU (% of a core): gateway ` +
        `${result.cpu.gatewayPercent.toFixed(0)}, clients + subgraphs ${result.cpu.loadSidePercent.toFixed(0)}, ` +
        `other ${result.cpu.foreignPercent.toFixed(0)}`,
    );
    if (result.cpu.foreignPercent > FOREIGN_CPU_WARNING_PERCENT || result.cpu.stealPercent > 5) {
      console.warn(
        `  warning: the machine was not quiet (other processes ${result.cpu.foreignPercent.toFixed(0)}%, ` +
          `steal ${result.cpu.stealPercent.toFixed(0)}% of a core): this run is less trustworthy`,
      );
    }
    const clientProblems = errorCount(result);
    if (clientProblems > 0)
      console.warn(`  ${clientProblems} errors; first: ${result.errors.samples.slice(0, 3).join(' | ')}`);
    return result;
  } catch (error) {
    if (error instanceof Error && !error.message.includes('--- last output of')) {
      error.message += `\n${describeFailure(gateway)}`;
    }
    throw error;
  } finally {
    for (const worker of workers) {
      if (worker.child.process.connected)
        worker.child.process.send({ type: 'close' } satisfies DriverMessage);
    }
    await Promise.all(
      workers.map((worker) =>
        Promise.race([worker.child.exited, sleep(2000)]).then(() => stopChild(worker.child)),
      ),
    );
    await stopChild(gateway);
  }
}

function errorCount(result: RunResult): number {
  const e = result.errors;
  return e.badEvents + e.subscriptionErrors + e.completed + e.socketsClosed;
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function fmt(value: number, digits = 1): string {
  if (value === Number.POSITIVE_INFINITY) return '∞';
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

function resultsTable(results: RunResult[]): string {
  const header = [
    'gateway',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'max ms',
    'offered/s',
    'delivered/s',
    'delivered',
    'errors',
    'RSS idle→subscribed MB',
    'KB/subscriber',
    'upstream sockets',
    'upstream subs',
    'entity fetches/event',
    'gw CPU',
    'load CPU',
    'other CPU',
  ];
  const rows = results.map((r) => [
    r.gateway,
    fmt(r.latencyMs.p50, 2),
    fmt(r.latencyMs.p95, 2),
    fmt(r.latencyMs.p99, 2),
    fmt(r.latencyMs.max, 0),
    (r.expected / r.windowSec).toFixed(0),
    r.deliveredPerSec.toFixed(0),
    r.expected > 0 ? `${((100 * r.delivered) / r.expected).toFixed(2)}%` : '-',
    String(errorCount(r)),
    `${r.memory.idleMb.toFixed(0)}→${r.memory.subscribedMb.toFixed(0)}`,
    fmt(r.memory.perSubscriberKb, 2),
    String(r.upstream.socketsOpened),
    String(r.upstream.subscribeOperations),
    fmt(r.entityFetchesPerEvent, 2),
    `${r.cpu.gatewayPercent.toFixed(0)}%`,
    `${r.cpu.loadSidePercent.toFixed(0)}%`,
    `${r.cpu.foreignPercent.toFixed(0)}%`,
  ]);
  return table(header, rows);
}

interface Verdict {
  subscribers: number;
  goal: string;
  /** null: cannot be told from this run (both gateways lost so many events that both p99s are ∞). */
  pass: boolean | null;
  detail: string;
}

interface Ratios {
  subscribers: number;
  p50: number;
  p99: number;
  memoryPerSubscriber: number;
  deliveredPerSec: number;
}

async function main(): Promise<void> {
  const config = readConfig();
  const pinning = planPinning(config.pin);
  if (pinning) pinSelf(pinning);

  console.log('Construct subscription benchmark');
  console.log(
    `  subscribers ${config.subscribers.map((n) => n.toLocaleString('en')).join(', ')}; ${config.rate} events/s over ` +
      `${config.distinct} deployments; ${config.perSocket} subscriptions per client socket, ${config.workers} client ` +
      `processes; ${config.warmupSec}s warm-up + ${config.durationSec}s measured; gateways: ${config.gateways.join(', ')}`,
  );
  console.log(
    pinning
      ? `  pinning: gateway on CPU ${pinning.gatewayCpus}; clients + subgraphs + driver on CPU ${pinning.restCpus}`
      : '  pinning: off',
  );

  await writeSupergraph(config.subgraphPortBase);
  console.log(`  supergraph: ${relative(REPO_ROOT, SUPERGRAPH_PATH)} (regenerated)`);
  await assertPortFree(config.subgraphPortBase + 1, 'deployments subgraph');
  await assertPortFree(config.subgraphPortBase + 2, 'users subgraph');
  const subgraphProcess = startChild(
    'subgraphs',
    'bench/subscriptions/subgraphs.ts',
    [],
    pinning?.restCpus ?? null,
    {
      BENCH_SUBGRAPH_PORT_BASE: String(config.subgraphPortBase),
    },
  );
  await waitForLine(subgraphProcess, /^subgraphs ready/, 60_000);
  const subgraphs: Subgraphs = {
    deployments: `http://127.0.0.1:${config.subgraphPortBase + 1}`,
    users: `http://127.0.0.1:${config.subgraphPortBase + 2}`,
  };
  console.log(
    `  subgraphs: deployments on ${config.subgraphPortBase + 1}, users on ${config.subgraphPortBase + 2}`,
  );

  const gateways = config.gateways.filter((name) => {
    if (existsSync(join(REPO_ROOT, GATEWAYS[name].entry))) return true;
    console.log(`\n▶ ${name}: SKIPPED: ${GATEWAYS[name].entry} does not exist`);
    return false;
  });
  const results: RunResult[] = [];
  let reference: { gateway: GatewayName; check: string } | null = null;
  try {
    for (const subscribers of config.subscribers) {
      for (const name of gateways) {
        const result = await measure(
          GATEWAYS[name],
          subscribers,
          config,
          pinning,
          subgraphs,
          subgraphProcess,
        );
        if (reference && result.check !== reference.check) {
          throw new Error(
            `${name}'s event differs from ${reference.gateway}'s:\n  ${result.check}\n  ${reference.check}`,
          );
        }
        reference ??= { gateway: name, check: result.check };
        results.push(result);
      }
    }
  } finally {
    await stopChild(subgraphProcess);
  }

  // Tables, ratios and goals.
  const ratios: Ratios[] = [];
  const verdicts: Verdict[] = [];
  for (const subscribers of config.subscribers) {
    const runs = results.filter((r) => r.subscribers === subscribers);
    const first = runs[0];
    if (!first) continue;
    console.log(
      `\n${subscribers.toLocaleString('en')} subscribers (${first.clientSockets} client sockets, ` +
        `${first.clientProcesses} client processes), ${first.publishedPerSec.toFixed(0)} events/s published over ` +
        `${config.distinct} deployments, ${config.durationSec}s measured:\n`,
    );
    console.log(resultsTable(runs));
    const ours = runs.find((r) => r.gateway === 'ours');
    const hive = runs.find((r) => r.gateway === 'hive');
    if (ours && hive) {
      const ratio: Ratios = {
        subscribers,
        p50: ours.latencyMs.p50 / hive.latencyMs.p50,
        p99: ours.latencyMs.p99 / hive.latencyMs.p99,
        memoryPerSubscriber: ours.memory.perSubscriberKb / hive.memory.perSubscriberKb,
        deliveredPerSec: ours.deliveredPerSec / hive.deliveredPerSec,
      };
      ratios.push(ratio);
      console.log(
        `\n  ours / hive:  p50 x${fmt(ratio.p50, 2)}   p99 x${fmt(ratio.p99, 2)}   memory/subscriber ` +
          `x${fmt(ratio.memoryPerSubscriber, 2)}   delivered/s x${fmt(ratio.deliveredPerSec, 2)}   (below 1 is better, ` +
          'except delivered/s)',
      );
    }
    if (ours) {
      const distinctSubscriptions = Math.min(subscribers, config.distinct);
      verdicts.push({
        subscribers,
        goal: 'p99 < 100 ms',
        pass: ours.latencyMs.p99 < 100 && ours.missing === 0,
        detail: `p99 ${fmt(ours.latencyMs.p99, 2)} ms${ours.missing > 0 ? `, ${ours.missing} deliveries missing` : ''}`,
      });
      verdicts.push({
        subscribers,
        goal: 'upstream connections = distinct subscriptions',
        pass:
          ours.upstream.subscribeOperations === distinctSubscriptions &&
          ours.upstream.socketsOpened <= distinctSubscriptions,
        detail:
          `${ours.upstream.socketsOpened} sockets, ${ours.upstream.subscribeOperations} subscribe operations ` +
          `for ${distinctSubscriptions} distinct subscriptions of ${subscribers} subscribers`,
      });
      if (hive) {
        const bothLost = !Number.isFinite(ours.latencyMs.p99) && !Number.isFinite(hive.latencyMs.p99);
        verdicts.push({
          subscribers,
          goal: 'latency within 1.0x of Hive',
          pass: bothLost
            ? null
            : ours.latencyMs.p50 <= hive.latencyMs.p50 && ours.latencyMs.p99 <= hive.latencyMs.p99,
          detail: bothLost
            ? 'both p99 are ∞ (more than 1 % of the deliveries never arrived): no comparison'
            : `p50 ${fmt(ours.latencyMs.p50, 2)} vs ${fmt(hive.latencyMs.p50, 2)} ms (x${fmt(ours.latencyMs.p50 / hive.latencyMs.p50, 2)}), ` +
              `p99 ${fmt(ours.latencyMs.p99, 2)} vs ${fmt(hive.latencyMs.p99, 2)} ms (x${fmt(ours.latencyMs.p99 / hive.latencyMs.p99, 2)})`,
        });
      }
      verdicts.push({
        subscribers,
        goal: 'every event delivered, no errors',
        pass: ours.missing === 0 && errorCount(ours) === 0 && ours.errors.repeated === 0,
        detail: `${ours.delivered} of ${ours.expected} delivered, ${errorCount(ours)} errors, ${ours.errors.repeated} repeated`,
      });
    }
  }
  if (verdicts.length > 0) {
    const atGoalLoad =
      config.rate === 1000 ? '' : ` (the goal's load is 1,000 events/s; this run used ${config.rate})`;
    console.log(`\nGoals (ours; stated for 10,000 subscribers at 1,000 events/s)${atGoalLoad}:`);
    for (const v of verdicts) {
      console.log(
        `  ${v.pass === null ? 'N/A ' : v.pass ? 'PASS' : 'FAIL'}  ${v.subscribers.toLocaleString('en').padStart(6)} subscribers  ${v.goal.padEnd(46)} ${v.detail}`,
      );
    }
  }
  const noisy = results.filter((r) => r.cpu.foreignPercent > FOREIGN_CPU_WARNING_PERCENT);
  if (noisy.length > 0) {
    console.warn(
      `\nwarning: other processes used CPU during ${noisy.map((r) => `${r.gateway}@${r.subscribers}`).join(', ')}; ` +
        'rerun on a quiet machine before trusting these figures.',
    );
  }
  const overloadedLoadSide = results.filter(
    (r) => r.cpu.loadSidePercent > 85 * Math.max(1, availableParallelism() - 1),
  );
  if (pinning && overloadedLoadSide.length > 0) {
    console.warn(
      `\nwarning: the clients and subgraphs used nearly all of CPU ${pinning.restCpus} during ` +
        `${overloadedLoadSide.map((r) => `${r.gateway}@${r.subscribers}`).join(', ')}: latencies there include ` +
        'time the events waited for the load generator, not only for the gateway.',
    );
  }

  const report = {
    when: new Date().toISOString(),
    config,
    environment: {
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpuCount: availableParallelism(),
      pinning,
    },
    results,
    ratios,
    verdicts,
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `subscriptions-${report.when.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${relative(REPO_ROOT, file)} (and latest.json)`);

  const failed = results.filter((r) => errorCount(r) > 0);
  if (failed.length > 0) {
    console.error(
      `\nFAILED: ${failed.map((r) => `${r.gateway}@${r.subscribers}`).join(', ')} sent errors or bad events ` +
        '(see the errors column and the JSON report).',
    );
    process.exitCode = 1;
  }
}

runBenchmark(main);
