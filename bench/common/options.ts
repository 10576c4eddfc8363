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
