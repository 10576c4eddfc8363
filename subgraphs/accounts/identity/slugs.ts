import { randomInt } from 'node:crypto';
import { slug as slugRule } from '../../common/validation';

const MAX_BASE = 32; // leaves room for a `-xxxx` suffix within the 39 characters of a slug

/** `Ada Lovelace` → `ada-lovelace`; `Zoë Ñúñez` → `zoe-nunez`; empty if nothing URL-safe is left. */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // accents
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_BASE)
    .replace(/-+$/g, '');
}

/**
 * The slug a personal organization starts from: the person's name, else the name part of their
 * email, else `user`; always a valid slug on its own.
 */
export function personalSlugBase(name: string, email: string): string {
  for (const source of [name, email.split('@')[0] ?? '']) {
    const candidate = slugify(source);
    if (slugRule.safeParse(candidate).success) return candidate;
  }
  return 'user';
}

const SUFFIX_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/** The slugs to try in turn: the base, then the base with a random 4-character suffix. */
export function slugCandidate(base: string, attempt: number): string {
  if (attempt === 0) return base;
  let suffix = '';
  // Longer suffixes after a few collisions, in case a popular name has used up the short ones.
  for (let i = 0; i < (attempt < 5 ? 4 : 6); i++)
    suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return `${base}-${suffix}`;
}
