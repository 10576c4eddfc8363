import { z } from 'zod';

/** An email address as typed: trimmed, bounded, well-formed (its case is kept; uniqueness ignores it). */
export const emailAddress = z
  .string()
  .trim()
  .max(254, 'Use at most 254 characters.')
  .pipe(z.email('Enter a valid email address, like ada@example.com.'));

/** The key rate limits and lookups use for an email: case and surrounding spaces do not count. */
export const emailKey = (email: string) => email.trim().toLowerCase();
