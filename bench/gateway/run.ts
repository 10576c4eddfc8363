import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { benchVariable } from '../common/options';
import {
  assertPortFree,
  type Child,
  CLOCK_TICKS,
  describeFailure,
  machineCpu,
  type Pinning,
  pinSelf,
  planPinning,
  runBenchmark,
  startChild,
  stopChild,
  waitForLine,
  waitForReady,
} from '../common/processes';
import { SUPERGRAPH_PATH, writeSupergraph } from './compose';
import { TEST_REQUEST_BODY } from './query';
import { DEFAULT_SUBGRAPH_PORT_BASE, SUBGRAPHS } from './subgraphs';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const RESULTS_DIR = join(import.meta.dirname, '.results');

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

type GatewayName = 'ours' | 'hive' | 'hive-jit' | 'stock';

interface GatewaySpec {
  name: GatewayName;
  description: string;
  /** Entry file, relative to the repository root; run as `node --import tsx <entry> ...`. */
  entry: string;
  extraArgs: string[];
  /** GET path that answers 200 once the gateway can serve. */
  readyPath: string;
  /** Extra environment, computed when the gateway is started. */
  env?: () => Record<string, string>;
}

function ephemeralEd25519Jwk(): string {
  return JSON.stringify(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }));
}

const GATEWAYS: Record<GatewayName, GatewaySpec> = {
  ours: {
    name: 'ours',
    description: 'Construct gateway (gateway/src/main.ts)',
    entry: 'gateway/src/main.ts',
    extraArgs: [],
    readyPath: '/health/ready',
    // In production our gateway requires the Ed25519 key it signs subgraph credentials with. The
    // bench makes a throwaway one per start unless one is given; it is never written anywhere.
    // One client user hammers it; the gateways compared have no limiter.
    env: () => ({
      GATEWAY_PRIVATE_KEY: benchVariable('GATEWAY_PRIVATE_KEY') ?? ephemeralEd25519Jwk(),
      RATE_LIMITS_ENABLED: 'false',
    }),
  },
  hive: {
    name: 'hive',
    description: 'Hive Gateway 2.15.1, runtime API, default settings',
    entry: 'bench/gateway/hive.ts',
    extraArgs: [],
    readyPath: '/readiness',
  },
  'hive-jit': {
    name: 'hive-jit',
    description: 'Hive Gateway 2.15.1 with --jit (graphql-jit executor)',
    entry: 'bench/gateway/hive.ts',
    extraArgs: ['--jit'],
    readyPath: '/readiness',
  },
  stock: {
    name: 'stock',
    description: '@apollo/gateway 2.14.4 + graphql-yoga 5.24.1 (useApolloFederation)',
    entry: 'bench/gateway/stock.ts',
    extraArgs: [],
    readyPath: '/health',
  },
};

interface Config {
  durationSec: number;
  warmupSec: number;
  connections: number;
  rounds: number;
  gateways: GatewayName[];
  pin: boolean;
  subgraphPortBase: number;
  gatewayPort: number;
}

function readConfig(): Config {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      gateways: { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
    },
  });
  const number = (flag: string | undefined, env: string, fallback: number): number => {
    const raw = flag ?? benchVariable(env);
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${env}: not a non-negative number: ${raw}`);
    return value;
  };
  const gateways = (values.gateways ?? benchVariable('BENCH_GATEWAYS') ?? 'ours,hive,stock')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of gateways) {
    if (!(name in GATEWAYS)) throw new Error(`unknown gateway "${name}" (known: ${Object.keys(GATEWAYS)})`);
  }
  return {
    durationSec: Math.max(1, number(values.duration, 'BENCH_DURATION', 20)),
    // 10 s rather than 5: at these rates (tens of requests a second) V8 is still optimising after 5 s.
    warmupSec: number(values.warmup, 'BENCH_WARMUP', 10),
    connections: Math.max(1, Math.round(number(values.connections, 'BENCH_CONNECTIONS', 50))),
    rounds: Math.max(1, Math.round(number(values.rounds, 'BENCH_ROUNDS', 1))),
    gateways: gateways as GatewayName[],
    pin: !values['no-pin'] && benchVariable('BENCH_PIN') !== '0',
    subgraphPortBase: number(undefined, 'BENCH_SUBGRAPH_PORT_BASE', DEFAULT_SUBGRAPH_PORT_BASE),
    gatewayPort: number(undefined, 'BENCH_GATEWAY_PORT', 4300),
  };
}

// ---------------------------------------------------------------------------------------------
// CPU pinning
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Process accounting (Linux /proc): CPU time and memory of a process group.
// ---------------------------------------------------------------------------------------------

interface GroupUsage {
  cpuSeconds: number;
  rssMb: number;
}

/** Sums CPU time (user + system) and RSS over every process in the process group `pgid`. */
function groupUsage(pgid: number): GroupUsage {
  let ticks = 0;
  let rssPages = 0;
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return { cpuSeconds: Number.NaN, rssMb: Number.NaN };
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state ppid pgrp ... utime(14) stime(15) ... rss(24).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
    rssPages += Number(fields[21]);
  }
  return { cpuSeconds: ticks / CLOCK_TICKS, rssMb: (rssPages * 4096) / 2 ** 20 };
}

/**
 * Waits until the gateway is idle. When autocannon stops it drops its connections, but the gateway
 * still works through the requests it had already accepted (up to one per connection, i.e. a second
 * or more of work at these rates); starting the next phase before that backlog is gone would charge
 * it to the next phase's first second and latencies.
 */
async function waitForIdle(pgid: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let before = groupUsage(pgid).cpuSeconds;
  while (Date.now() < deadline) {
    await sleep(250);
    const after = groupUsage(pgid).cpuSeconds;
    if ((after - before) / 0.25 < 0.1) return;
    before = after;
  }
  console.warn(`  warning: gateway still busy ${timeoutMs} ms after the load stopped`);
}

// ---------------------------------------------------------------------------------------------
// Correctness
// ---------------------------------------------------------------------------------------------

const REQUEST_HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

interface CheckedAnswer {
  raw: string;
  /** JSON.parse + JSON.stringify: whitespace and escaping normalised, key order kept. */
  normalised: string;
}

async function queryOnce(url: string): Promise<CheckedAnswer> {
  const response = await fetch(url, { method: 'POST', headers: REQUEST_HEADERS, body: TEST_REQUEST_BODY });
  const raw = await response.text();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${raw.slice(0, 500)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`response is not JSON: ${raw.slice(0, 500)}`);
  }
  const problem = answerProblem(parsed);
  if (problem) throw new Error(`${problem}: ${raw.slice(0, 1000)}`);
  return { raw, normalised: JSON.stringify(parsed) };
}

/** Why a parsed response is not a clean, complete answer to the TestQuery; null if it is. */
function answerProblem(parsed: unknown): string | null {
  if (typeof parsed !== 'object' || parsed === null) return 'response is not an object';
  const body = parsed as { data?: unknown; errors?: unknown };
  if (body.errors !== undefined) return 'response has errors';
  const data = body.data as { users?: unknown; topProducts?: unknown } | null | undefined;
  if (!data || !Array.isArray(data.users) || !Array.isArray(data.topProducts)) return 'response lacks data';
  if (data.users.length === 0 || data.topProducts.length === 0) return 'response data is empty';
  return null;
}

/** First JSON path where two values differ (key order counts), for error messages. */
function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) {
    return `${path}: ${JSON.stringify(a)?.slice(0, 200)} vs ${JSON.stringify(b)?.slice(0, 200)}`;
  }
  if (typeof a !== 'object' || a === null) {
    return a === b ? null : `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: array length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const difference = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (difference) return difference;
    }
    return null;
  }
  const aObject = a as Record<string, unknown>;
  const bObject = b as Record<string, unknown>;
  const aKeys = Object.keys(aObject);
  const bKeys = Object.keys(bObject);
  if (aKeys.join(',') !== bKeys.join(',')) return `${path}: keys [${aKeys}] vs [${bKeys}]`;
  for (const key of aKeys) {
    const difference = firstDifference(aObject[key], bObject[key], `${path}.${key}`);
    if (difference) return difference;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

interface LoadResult {
  durationSec: number;
  /** Verified-good responses per second. */
  rps: number;
  /** autocannon's own figure (mean of per-second samples of all responses), for cross-checking. */
  autocannonRps: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  responses: number;
  non2xx: number;
  /** Connection errors, including timeouts. */
  connectionErrors: number;
  timeouts: number;
  /** 2xx responses whose body was not a clean answer equal to the checked one. */
  badBodies: number;
  /** Responses equal after normalisation but not byte-identical to the first answer. */
  bodyVariants: number;
  errors: number;
  /** One sample a second: responses completed in that second and the gateway's CPU use (% of a core). */
  timeline: { second: number; responses: number; gatewayCpuPercent: number }[];
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

async function load(
  url: string,
  seconds: number,
  connections: number,
  expected: CheckedAnswer,
  gatewayPgid: number,
): Promise<LoadResult> {
  let bodyVariants = 0;
  // Every response body is checked: the fast path is an exact string comparison with the answer
  // already verified; anything else is parsed and must be error-free and equal after normalisation.
  const verifyBody = (body: unknown): boolean => {
    const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '';
    if (text === expected.raw) return true;
    try {
      const parsed: unknown = JSON.parse(text);
      if (answerProblem(parsed) !== null || JSON.stringify(parsed) !== expected.normalised) return false;
      bodyVariants++;
      return true;
    } catch {
      return false;
    }
  };

  let latencies = new Float64Array(1 << 16);
  let count = 0;

  // A per-second timeline shows warm-up trends, stalls and whether the gateway was CPU-bound.
  const timeline: LoadResult['timeline'] = [];
  let lastCount = 0;
  let lastCpu = groupUsage(gatewayPgid).cpuSeconds;
  let lastTime = process.hrtime.bigint();
  const sampler = setInterval(() => {
    const now = process.hrtime.bigint();
    const cpu = groupUsage(gatewayPgid).cpuSeconds;
    const elapsed = Number(now - lastTime) / 1e9;
    timeline.push({
      second: timeline.length + 1,
      responses: count - lastCount,
      gatewayCpuPercent: Math.round((100 * (cpu - lastCpu)) / elapsed),
    });
    lastCount = count;
    lastCpu = cpu;
    lastTime = now;
  }, 1000);
  const result = await new Promise<autocannon.Result>((resolveRun, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        headers: REQUEST_HEADERS,
        body: TEST_REQUEST_BODY,
        connections,
        duration: seconds,
        pipelining: 1,
        timeout: 10,
        verifyBody,
      },
      (error: unknown, finished: autocannon.Result) => (error ? reject(error) : resolveRun(finished)),
    );
    // autocannon reports p50/p97.5/p99 but not p95, so keep every latency and compute exactly.
    instance.on('response', (_client, _statusCode, _bytes, responseTimeMs) => {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = responseTimeMs;
    });
  }).finally(() => clearInterval(sampler));

  const sorted = latencies.slice(0, count).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const good = result['2xx'] - result.mismatches;
  return {
    durationSec: result.duration,
    rps: good / result.duration,
    autocannonRps: result.requests.average,
    latencyMs: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
      mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
    },
    responses: count,
    non2xx: result.non2xx,
    connectionErrors: result.errors,
    timeouts: result.timeouts,
    badBodies: result.mismatches,
    bodyVariants,
    errors: result.non2xx + result.errors + result.mismatches,
    timeline,
  };
}

// ---------------------------------------------------------------------------------------------
// Subgraph call accounting
// ---------------------------------------------------------------------------------------------

async function subgraphRequests(portBase: number): Promise<number> {
  let total = 0;
  for (let index = 0; index < SUBGRAPHS.length; index++) {
    const response = await fetch(`http://127.0.0.1:${portBase + index + 1}/__stats`);
    const stats = (await response.json()) as { requests: number };
    total += stats.requests;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

/** One start-warm-measure-stop cycle of one gateway. */
interface RoundResult {
  round: number;
  startupMs: number;
  warmup?: LoadResult;
  measured: LoadResult;
  /** CPU used by the gateway's process group during the measurement, in % of one core. */
  gatewayCpuPercent: number;
  /** CPU used by the driver (load generator) and the subgraphs together, in % of one core. */
  loadSideCpuPercent: number;
  /** CPU used on this machine by processes that are not part of the benchmark, in % of one core. */
  foreignCpuPercent: number;
  /** CPU time the hypervisor gave to others (steal), in % of one core. */
  stealCpuPercent: number;
  gatewayRssMb: number;
  subgraphCallsPerRequest: number;
}

interface GatewaySummary {
  /** Medians over rounds (a single round's values when there is one round). */
  rps: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  gatewayCpuPercent: number;
  foreignCpuPercent: number;
  gatewayRssMb: number;
  subgraphCallsPerRequest: number;
  /** Sum over rounds. */
  errors: number;
  rpsMin: number;
  rpsMax: number;
}

interface GatewayResult {
  name: GatewayName;
  description: string;
  status: 'measured' | 'skipped';
  reason?: string;
  responseBytes?: number;
  rounds: RoundResult[];
  summary?: GatewaySummary;
}

async function benchmarkGateway(
  spec: GatewaySpec,
  round: number,
  config: Config,
  pinning: Pinning | null,
  subgraphs: Child,
  reference: { name: GatewayName; answer: CheckedAnswer } | null,
): Promise<{ result: RoundResult; answer: CheckedAnswer }> {
  const port = config.gatewayPort;
  await assertPortFree(port, `${spec.name} gateway`);
  const supergraphArg = relative(REPO_ROOT, SUPERGRAPH_PATH);
  const args = ['--supergraph', supergraphArg, '--port', String(port), ...spec.extraArgs];
  console.log(`\n▶ ${spec.name}${config.rounds > 1 ? ` (round ${round})` : ''}: ${spec.description}`);
  console.log(
    `  ${pinning ? `taskset -c ${pinning.gatewayCpus} ` : ''}node --import tsx ${spec.entry} ${args.join(' ')}`,
  );
  const gateway = startChild(spec.name, spec.entry, args, pinning?.gatewayCpus ?? null, spec.env?.() ?? {});
  try {
    const base = `http://127.0.0.1:${port}`;
    const startupMs = await waitForReady(gateway, `${base}${spec.readyPath}`, 60_000);
    console.log(`  ready in ${startupMs} ms`);

    const answer = await queryOnce(`${base}/graphql`).catch((error: unknown) => {
      throw new Error(`${spec.name}: the deep query failed: ${(error as Error).message}`);
    });
    if (reference && answer.normalised !== reference.answer.normalised) {
      await mkdir(RESULTS_DIR, { recursive: true });
      await writeFile(join(RESULTS_DIR, `answer-${reference.name}.json`), reference.answer.raw);
      await writeFile(join(RESULTS_DIR, `answer-${spec.name}.json`), answer.raw);
      const difference = firstDifference(JSON.parse(reference.answer.raw), JSON.parse(answer.raw));
      throw new Error(
        `${spec.name}'s answer differs from ${reference.name}'s at ${difference}\n` +
          `  both answers saved in ${relative(REPO_ROOT, RESULTS_DIR)}/answer-*.json`,
      );
    }
    console.log(
      `  answer ok: ${answer.raw.length} bytes, no errors` +
        (reference && reference.name !== spec.name ? `, identical to ${reference.name}'s` : '') +
        (reference && answer.raw !== reference.answer.raw ? ' after normalisation (raw bytes differ)' : ''),
    );

    const url = `${base}/graphql`;
    const pgid = gateway.process.pid!;
    let warmup: LoadResult | undefined;
    if (config.warmupSec > 0) {
      warmup = await load(url, config.warmupSec, config.connections, answer, pgid);
      console.log(`  warm-up ${config.warmupSec}s: ${warmup.rps.toFixed(0)} rps, ${warmup.errors} errors`);
      await waitForIdle(pgid);
    }

    const subgraphsPgid = subgraphs.process.pid!;
    const callsBefore = await subgraphRequests(config.subgraphPortBase);
    const gatewayBefore = groupUsage(pgid);
    const subgraphsBefore = groupUsage(subgraphsPgid);
    const machineBefore = machineCpu();
    const driverBefore = process.cpuUsage();
    const startedAt = process.hrtime.bigint();

    const measured = await load(url, config.durationSec, config.connections, answer, pgid);

    const elapsedSec = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const driverCpu = process.cpuUsage(driverBefore);
    const machineAfter = machineCpu();
    const gatewayAfter = groupUsage(pgid);
    const subgraphsAfter = groupUsage(subgraphsPgid);
    const callsAfter = await subgraphRequests(config.subgraphPortBase);

    const percentOfCore = (seconds: number): number => (100 * seconds) / elapsedSec;
    const gatewayCpuSec = gatewayAfter.cpuSeconds - gatewayBefore.cpuSeconds;
    const loadSideCpuSec =
      (driverCpu.user + driverCpu.system) / 1e6 + (subgraphsAfter.cpuSeconds - subgraphsBefore.cpuSeconds);
    const machineBusySec = machineAfter.busySeconds - machineBefore.busySeconds;
    const result: RoundResult = {
      round,
      startupMs,
      ...(warmup ? { warmup } : {}),
      measured,
      gatewayCpuPercent: percentOfCore(gatewayCpuSec),
      loadSideCpuPercent: percentOfCore(loadSideCpuSec),
      foreignCpuPercent: Math.max(0, percentOfCore(machineBusySec - gatewayCpuSec - loadSideCpuSec)),
      stealCpuPercent: percentOfCore(machineAfter.stealSeconds - machineBefore.stealSeconds),
      gatewayRssMb: gatewayAfter.rssMb,
      subgraphCallsPerRequest: measured.responses > 0 ? (callsAfter - callsBefore) / measured.responses : 0,
    };
    console.log(
      `  measured ${config.durationSec}s: ${measured.rps.toFixed(0)} rps, p99 ${measured.latencyMs.p99.toFixed(1)} ms, ` +
        `${measured.errors} errors; CPU (% of a core): gateway ${result.gatewayCpuPercent.toFixed(0)}, ` +
        `load generator + subgraphs ${result.loadSideCpuPercent.toFixed(0)}, ` +
        `other processes ${result.foreignCpuPercent.toFixed(0)}`,
    );
    if (result.foreignCpuPercent > FOREIGN_CPU_WARNING_PERCENT || result.stealCpuPercent > 5) {
      console.warn(
        `  warning: the machine was not quiet (other processes ${result.foreignCpuPercent.toFixed(0)}%, ` +
          `steal ${result.stealCpuPercent.toFixed(0)}% of a core): this round is less trustworthy`,
      );
    }
    return { result, answer };
  } catch (error) {
    if (error instanceof Error && !error.message.includes('--- last output of')) {
      error.message += `\n${describeFailure(gateway)}`;
    }
    throw error;
  } finally {
    await stopChild(gateway);
  }
}

const FOREIGN_CPU_WARNING_PERCENT = 10;

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function summarise(rounds: RoundResult[]): GatewaySummary {
  const of = (pick: (round: RoundResult) => number): number => median(rounds.map(pick));
  const rps = rounds.map((round) => round.measured.rps);
  return {
    rps: median(rps),
    p50Ms: of((round) => round.measured.latencyMs.p50),
    p95Ms: of((round) => round.measured.latencyMs.p95),
    p99Ms: of((round) => round.measured.latencyMs.p99),
    gatewayCpuPercent: of((round) => round.gatewayCpuPercent),
    foreignCpuPercent: of((round) => round.foreignCpuPercent),
    gatewayRssMb: of((round) => round.gatewayRssMb),
    subgraphCallsPerRequest: of((round) => round.subgraphCallsPerRequest),
    errors: rounds.reduce((sum, round) => sum + round.measured.errors, 0),
    rpsMin: Math.min(...rps),
    rpsMax: Math.max(...rps),
  };
}

function formatTable(results: GatewayResult[], rounds: number): string {
  const header = [
    'gateway',
    'RPS',
    ...(rounds > 1 ? ['RPS range'] : []),
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'errors',
    'gw CPU',
    'other CPU',
    'RSS MB',
    'subgraph calls/req',
  ];
  const rows = results.map((r) => {
    const s = r.summary;
    if (r.status !== 'measured' || !s) return [r.name, r.status, ...header.slice(2).map(() => '')];
    return [
      r.name,
      s.rps.toFixed(0),
      ...(rounds > 1 ? [`${s.rpsMin.toFixed(0)}-${s.rpsMax.toFixed(0)}`] : []),
      s.p50Ms.toFixed(1),
      s.p95Ms.toFixed(1),
      s.p99Ms.toFixed(1),
      String(s.errors),
      `${s.gatewayCpuPercent.toFixed(0)}%`,
      `${s.foreignCpuPercent.toFixed(0)}%`,
      s.gatewayRssMb.toFixed(0),
      s.subgraphCallsPerRequest.toFixed(1),
    ];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

interface Ratio {
  versus: GatewayName;
  /** ours RPS / their RPS: above 1 means we serve more. */
  rpsRatio: number;
  /** ours p99 / their p99: below 1 means our tail latency is lower. */
  p99Ratio: number;
}

function ratios(results: GatewayResult[], subject: GatewayName, versus: GatewayName[]): Ratio[] {
  const find = (name: GatewayName): GatewaySummary | undefined =>
    results.find((r) => r.name === name)?.summary;
  const ours = find(subject);
  if (!ours) return [];
  return versus.flatMap((name) => {
    const other = find(name);
    if (!other) return [];
    return [{ versus: name, rpsRatio: ours.rps / other.rps, p99Ratio: ours.p99Ms / other.p99Ms }];
  });
}

async function main(): Promise<void> {
  const config = readConfig();
  const pinning = planPinning(config.pin);
  if (pinning) pinSelf(pinning);

  console.log('Construct gateway benchmark');
  console.log(
    `  ${config.connections} connections, ${config.warmupSec}s warm-up + ${config.durationSec}s measured per gateway` +
      `${config.rounds > 1 ? `, ${config.rounds} interleaved rounds (medians reported)` : ''}; ` +
      `gateways: ${config.gateways.join(', ')}`,
  );
  console.log(
    pinning
      ? `  pinning: gateway on CPU ${pinning.gatewayCpus}; load generator + subgraphs on CPU ${pinning.restCpus}`
      : '  pinning: off',
  );

  await writeSupergraph(config.subgraphPortBase);
  console.log(`  supergraph: ${relative(REPO_ROOT, SUPERGRAPH_PATH)} (regenerated)`);

  for (let index = 0; index < SUBGRAPHS.length; index++) {
    await assertPortFree(config.subgraphPortBase + index + 1, `subgraph ${SUBGRAPHS[index]!.name}`);
  }
  const subgraphs = startChild('subgraphs', 'bench/gateway/subgraphs.ts', [], pinning?.restCpus ?? null);
  await waitForLine(subgraphs, /^subgraphs ready/, 60_000);
  console.log(
    `  subgraphs: ports ${config.subgraphPortBase + 1}-${config.subgraphPortBase + SUBGRAPHS.length}` +
      `${benchVariable('BENCH_SUBGRAPH_MEMO') === '0' ? ' (response memo off)' : ''}`,
  );

  const results: GatewayResult[] = config.gateways.map((name) => ({
    name,
    description: GATEWAYS[name].description,
    status: 'measured',
    rounds: [],
  }));
  for (const result of results) {
    const entry = GATEWAYS[result.name].entry;
    if (!existsSync(join(REPO_ROOT, entry))) {
      result.status = 'skipped';
      result.reason = `${entry} does not exist yet`;
      console.log(`\n▶ ${result.name}: SKIPPED: ${result.reason}`);
    }
  }

  let reference: { name: GatewayName; answer: CheckedAnswer } | null = null;
  try {
    // Rounds are interleaved (A B C A B C ...) so that slow drifts of the machine hit every gateway alike.
    for (let round = 1; round <= config.rounds; round++) {
      for (const result of results) {
        if (result.status !== 'measured') continue;
        const { result: roundResult, answer } = await benchmarkGateway(
          GATEWAYS[result.name],
          round,
          config,
          pinning,
          subgraphs,
          reference,
        );
        reference ??= { name: result.name, answer };
        result.responseBytes = answer.raw.length;
        result.rounds.push(roundResult);
      }
    }
  } finally {
    await stopChild(subgraphs);
  }
  for (const result of results) {
    if (result.rounds.length > 0) result.summary = summarise(result.rounds);
  }

  console.log(
    `\nResults (${config.connections} connections, ${config.durationSec}s measured` +
      `${config.rounds > 1 ? `, median of ${config.rounds} rounds` : ''}):\n`,
  );
  console.log(formatTable(results, config.rounds));

  const oursRatios = ratios(results, 'ours', ['hive', 'stock']);
  if (oursRatios.length > 0) {
    console.log('\nours vs others (RPS ratio: above 1 is better; p99 ratio: below 1 is better):');
    for (const r of oursRatios) {
      console.log(
        `  vs ${r.versus.padEnd(5)}  RPS x${r.rpsRatio.toFixed(2)}   p99 x${r.p99Ratio.toFixed(2)}`,
      );
    }
  } else if (results.some((r) => r.name === 'ours')) {
    console.log('\nours was not measured, so there are no ratios.');
  }
  const noisy = results.filter((r) => (r.summary?.foreignCpuPercent ?? 0) > FOREIGN_CPU_WARNING_PERCENT);
  if (noisy.length > 0) {
    console.warn(
      `\nwarning: other processes used CPU during the runs of ${noisy.map((r) => r.name).join(', ')}; ` +
        `rerun on a quiet machine${config.rounds === 1 ? ' (or with --rounds 3)' : ''} before trusting these figures.`,
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
      subgraphMemo: benchVariable('BENCH_SUBGRAPH_MEMO') !== '0',
    },
    results,
    ratios: { ours: oursRatios },
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `gateway-${report.when.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${relative(REPO_ROOT, file)} (and latest.json)`);

  const withErrors = results.filter((r) => (r.summary?.errors ?? 0) > 0);
  if (withErrors.length > 0) {
    console.error(
      `\nFAILED: ${withErrors.map((r) => r.name).join(', ')} answered with errors during the measurement ` +
        '(see the errors column and the JSON report).',
    );
    process.exitCode = 1;
  }
}

runBenchmark(main);
