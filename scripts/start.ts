/**
 * `npm start`: the whole supergraph on one machine with nothing installed. Starts the embedded
 * PostgreSQL (unless DATABASE_URL is set), every subgraph in its own process on its port, then
 * the gateway, and prints the URLs. A process that dies is restarted with backoff; Ctrl-C stops
 * everything, the database last.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { embeddedPostgres } from '../db/connection';
import { defineSettings, nodeEnv, port, readEnvironment } from '../subgraphs/common/config';
import { subgraphNames, subgraphs } from '../subgraphs/registry';

/** What the supervisor itself reads; every process it starts reads the rest. */
const settings = defineSettings('npm start', {
  NODE_ENV: nodeEnv,
  DATABASE_URL: z.url().optional(),
  GATEWAY_PORT: port.default(4000),
  EDGE_PORT: port.default(4080),
});
const environment = readEnvironment();
const config = settings.parse(environment);
const env: NodeJS.ProcessEnv = {
  ...environment,
  NODE_ENV: config.NODE_ENV,
  APOLLO_TELEMETRY_DISABLED: 'true',
};
const pretty = process.stdout.isTTY;
let stopping = false;

const database = config.DATABASE_URL ? undefined : await embeddedPostgres();
if (database) {
  env.DATABASE_URL = database.url;
  console.log(`PostgreSQL (embedded, data in .data/postgres): ${database.url.replace(/:[^:@/]+@/, ':***@')}`);
}

interface Managed {
  name: string;
  args: string[];
  child?: ChildProcess;
  restarts: number;
}

const processes: Managed[] = [
  ...subgraphNames.map((name) => ({ name, args: ['scripts/start-subgraph.ts', name], restarts: 0 })),
  { name: 'gateway', args: ['gateway/src/main.ts'], restarts: 0 },
];

function launch(managed: Managed) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...managed.args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  managed.child = child;
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => printLine(managed.name, line));
  }
  const started = Date.now();
  child.on('exit', (code, signal) => {
    if (stopping) return;
    // A process that ran for a while before dying gets a fresh backoff.
    if (Date.now() - started > 60_000) managed.restarts = 0;
    const delay = Math.min(30_000, 1_000 * 2 ** managed.restarts++);
    console.error(`[${managed.name}] exited (${signal ?? code}); restarting in ${delay / 1000}s`);
    setTimeout(() => !stopping && launch(managed), delay);
  });
}

async function waitReady(url: string, name: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not become ready within ${timeoutMs / 1000}s (${url})`);
}

const LEVELS: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** JSON log lines as they are for machines; short and readable in a terminal. */
function printLine(name: string, line: string) {
  if (!pretty || !line.startsWith('{')) return console.log(`[${name}] ${line}`);
  try {
    const { level, time, msg, service: _s, name: _n, pid: _p, hostname: _h, ...rest } = JSON.parse(line);
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    const stamp = new Date(time).toISOString().slice(11, 23);
    console.log(`${stamp} [${name}] ${LEVELS[level] ?? level}: ${msg}${extra}`);
  } catch {
    console.log(`[${name}] ${line}`);
  }
}

async function stop() {
  if (stopping) return;
  stopping = true;
  console.log('Stopping…');
  await Promise.all(
    processes.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  await database?.stop();
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const gateway = processes.at(-1)!;
for (const managed of processes.slice(0, -1)) launch(managed);
await Promise.all(
  subgraphNames.map((name) => waitReady(`http://127.0.0.1:${subgraphs[name].port}/health/ready`, name)),
);
launch(gateway);
const gatewayPort = config.GATEWAY_PORT;
await waitReady(`http://127.0.0.1:${gatewayPort}/health/ready`, 'gateway');

console.log(`
Construct is running.
  GraphQL + GraphiQL   http://localhost:${gatewayPort}/graphql
${subgraphNames.map((name) => `  ${name.padEnd(20)} http://localhost:${subgraphs[name].port}/graphql`).join('\n')}
  Deployments (edge)   http://<project>.localhost:${config.EDGE_PORT}
Press Ctrl-C to stop.
`);
