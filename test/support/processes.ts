import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { printSubgraphSchema } from '@apollo/subgraph';
import { createGateway, type Gateway } from '../../gateway/src/app';
import { composeSupergraph } from '../../gateway/src/composition';
import { loadGatewayConfig } from '../../gateway/src/config';
import { type SubgraphName, subgraphs } from '../../subgraphs/registry';
import { testEnvironment } from './environment';
import { GENEROUS_RATE_LIMITS } from './supergraph';

const repositoryRoot = resolve(import.meta.dirname, '../..');
const START_TIMEOUT_MS = 20_000;

/** A subgraph running as a real process of its own (`npm run start:subgraph`), as in production. */
export interface ChildSubgraph {
  name: SubgraphName;
  /** The port it listens on; a restart keeps it. */
  port: number;
  url: string;
  readonly running: boolean;
  /** Sends a signal and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the process again on the same port (after `kill`). */
  restart(): Promise<void>;
}

/**
 * Spawns `scripts/start-subgraph.ts <name>` with tsx, on a free port (or the given one), and
 * resolves once the process logs that it is ready, with the URL it logged.
 */
export async function spawnSubgraph(
  name: SubgraphName,
  options: { databaseUrl: string; port?: number; env?: Record<string, string> },
): Promise<ChildSubgraph> {
  // One runtime folder per subgraph process, kept across its restarts (as a server's disk is),
  // and an edge on a free port so parallel test files never collide.
  const env = {
    RUNTIME_DIR: mkdtempSync(join(tmpdir(), 'construct-runtime-')),
    EDGE_PORT: '0',
    ...options.env,
  };
  let child: ChildProcess;
  let exited: Promise<void>;
  let port = options.port ?? 0;
  let url = '';

  const start = async () => {
    const started = startProcess(name, options.databaseUrl, port, env);
    child = started.child;
    exited = started.exited;
    url = await started.ready;
    port = Number(new URL(url).port);
  };
  await start();

  return {
    name,
    get port() {
      return port;
    },
    get url() {
      return url;
    },
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) throw new Error(`${name} is still running`);
      await start();
    },
  };
}

function startProcess(name: SubgraphName, databaseUrl: string, port: number, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start-subgraph.ts', name], {
    cwd: repositoryRoot,
    env: {
      ...testEnvironment.inherited(),
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: String(port),
      [`${name.toUpperCase()}_DATABASE_URL`]: databaseUrl,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  // Keep the last lines for a readable failure, and keep reading: a full pipe would block its logger.
  const output: string[] = [];
  const remember = (line: string) => {
    output.push(line);
    if (output.length > 50) output.shift();
  };
  createInterface({ input: child.stderr! }).on('line', remember);
  const ready = new Promise<string>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms:\n${output.join('\n')}`));
    }, START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      let entry: { msg?: string; url?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.msg === `${name} subgraph ready` && entry.url) {
        clearTimeout(timer);
        resolveReady(entry.url);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${output.join('\n')}`));
    });
  });
  return { child, exited, ready };
}

/** Composes the subgraphs' schemas (from their code) with the given routing URLs into a new supergraph file. */
export async function writeTestSupergraph(urls: Partial<Record<SubgraphName, string>>): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'construct-')), 'supergraph.graphql');
  writeFileSync(path, await composeTestSupergraph(urls));
  return path;
}

export async function composeTestSupergraph(urls: Partial<Record<SubgraphName, string>>): Promise<string> {
  const sdls = await Promise.all(
    (Object.entries(urls) as [SubgraphName, string][]).map(async ([name, url]) => ({
      name,
      url,
      sdl: printSubgraphSchema((await subgraphs[name].load()).schema),
    })),
  );
  return composeSupergraph(sdls);
}

export interface TestGateway {
  gateway: Gateway;
  /** The GraphQL endpoint. */
  url: string;
  /** Scheme, host and port, for the operational endpoints. */
  origin: string;
  port: number;
  close(): Promise<void>;
}

/** The real gateway, in this process, on a free port, serving a supergraph file. */
export async function startTestGateway(
  supergraphPath: string,
  env: Record<string, string> = {},
): Promise<TestGateway> {
  const gateway = await createGateway(
    loadGatewayConfig(['--supergraph', supergraphPath], {
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      SUPERGRAPH_WATCH: 'false',
      ...GENEROUS_RATE_LIMITS,
      ...env,
    }),
  );
  const port = await gateway.listen(0);
  const origin = `http://127.0.0.1:${port}`;
  return { gateway, url: `${origin}/graphql`, origin, port, close: () => gateway.close() };
}
