/**
 * A whole-number option of a benchmark: the command-line flag, else the environment variable,
 * else the default; anything else is refused with the variable named, before a run starts.
 */
export function integerOption(
  flag: string | undefined,
  env: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = flag ?? process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${env}: expected an integer from ${min} to ${max}, got ${raw}`);
  }
  return value;
}

/**
 * A variable of the benchmarks' environment (their BENCH_* knobs, or a server they are pointed
 * at); undefined when unset or empty. The benchmarks' one reader of `process.env`.
 */
export function benchVariable(name: string): string | undefined {
  const value = process.env[name];
  return value === '' ? undefined : value;
}

/** The environment a benchmark's child processes inherit (the system under test reads its own). */
export const inheritedEnvironment = (): NodeJS.ProcessEnv => ({ ...process.env });
