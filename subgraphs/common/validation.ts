import { z } from 'zod';

/** URL-safe handles (organizations, projects): what fits in a hostname label and a CLI argument. */
export const slug = z
  .string()
  .trim()
  .toLowerCase()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{1,37}[a-z0-9])$/,
    'Use 3 to 39 lowercase letters, digits or hyphens, not starting or ending with a hyphen.',
  );

/** A display name: trimmed, not blank, bounded. */
export const displayName = z
  .string()
  .trim()
  .min(1, 'Must not be blank.')
  .max(100, 'Use at most 100 characters.');

const UNIQUE_VIOLATION = '23505';

/** Whether a database error is the violation of this unique constraint. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint?: string; cause?: { code?: string; constraint?: string } };
  const pgError = e.code ? e : e.cause; // drizzle wraps driver errors in `cause`
  return pgError?.code === UNIQUE_VIOLATION && pgError.constraint === constraint;
}
