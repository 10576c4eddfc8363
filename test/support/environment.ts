/**
 * What the tests read from the environment they run in, in one place (the lint rule
 * `noProcessEnv` holds everywhere else). CI sets both servers; a machine without them gets
 * an embedded PostgreSQL and skips what needs Redis.
 */
export const testEnvironment = {
  /** A PostgreSQL server the tests create their databases on; unset: an embedded one. */
  databaseUrl: process.env.TEST_DATABASE_URL,
  /** A Redis server, for the tests of what crosses processes through it. */
  redisUrl: process.env.REDIS_URL,
  /** The environment child processes (git, the CLI, a subgraph process) inherit. */
  inherited: (): NodeJS.ProcessEnv => ({ ...process.env }),
  /** Where the machine's programs are (git, node), for children given a bare environment. */
  path: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  home: process.env.HOME,
};

/**
 * Sets a variable in this process's own environment for the length of a test that checks it
 * does not leak into what the platform starts (builds, apps).
 */
export function plantInEnvironment(name: string, value: string): () => void {
  process.env[name] = value;
  return () => {
    delete process.env[name];
  };
}
