import { and, asc, type Column, desc, gt, lt, type SQL } from 'drizzle-orm';
import { badUserInput } from './errors';

/** The Relay connection arguments, as Pothos passes them. */
export interface ConnectionArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

/** One page to read from storage: rows strictly after/before an ID, in ID order. */
export interface PageQuery {
  afterId?: string;
  beforeId?: string;
  limit: number;
  /** Read from the end (for `last`): the rows come newest first and are reversed here. */
  descending: boolean;
}

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
}

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;
const CURSOR_PREFIX = 'c1:';

export function encodeCursor(id: string): string {
  return Buffer.from(CURSOR_PREFIX + id).toString('base64url');
}

export function decodeCursor(cursor: string, argument: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString();
  if (!decoded.startsWith(CURSOR_PREFIX) || decoded.length === CURSOR_PREFIX.length) {
    throw badUserInput(`\`${argument}\` is not a cursor this list gave out.`, argument);
  }
  return decoded.slice(CURSOR_PREFIX.length);
}

function pageSize(value: number | null | undefined, argument: string): number | undefined {
  if (value == null) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > MAX_PAGE_SIZE) {
    throw badUserInput(`\`${argument}\` must be between 0 and ${MAX_PAGE_SIZE}.`, argument);
  }
  return value;
}

/**
 * Keyset pagination over time-ordered IDs: a page costs one indexed range scan whatever its
 * depth, and inserts never shift a page (unlike OFFSET). Reads one row more than asked to
 * know whether another page follows.
 */
export async function keysetConnection<T extends { id: string }>(
  args: ConnectionArgs,
  load: (query: PageQuery) => Promise<T[]>,
): Promise<Connection<T>> {
  const first = pageSize(args.first, 'first');
  const last = pageSize(args.last, 'last');
  if (first !== undefined && last !== undefined) {
    throw badUserInput('Pass `first` or `last`, not both.', 'last');
  }
  const afterId = args.after ? decodeCursor(args.after, 'after') : undefined;
  const beforeId = args.before ? decodeCursor(args.before, 'before') : undefined;
  const descending = last !== undefined;
  const size = (descending ? last : first) ?? DEFAULT_PAGE_SIZE;

  const rows = size === 0 ? [] : await load({ afterId, beforeId, limit: size + 1, descending });
  const more = rows.length > size;
  const page = rows.slice(0, size);
  if (descending) page.reverse();

  const edges = page.map((node) => ({ cursor: encodeCursor(node.id), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: descending ? beforeId !== undefined : more,
      hasPreviousPage: descending ? more : afterId !== undefined,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/**
 * The page's WHERE and ORDER BY on its key column, for a storage query. Oldest first (by a
 * time-ordered ID) unless `newestFirst`: then `after` a cursor means older and `before` newer.
 * `cast` turns a cursor into the column's type (a sequence number); default: the string itself.
 * `keysetConnection` asks for `descending` when reading backwards (`last`) and reverses the rows.
 */
export function keyset(
  key: Column,
  page: PageQuery,
  options: { newestFirst?: boolean; cast?: (cursor: string) => string | number } = {},
): { where: SQL | undefined; order: SQL } {
  const cast = options.cast ?? ((cursor: string) => cursor);
  const [older, newer] = options.newestFirst ? [lt, gt] : [gt, lt];
  const backwards = options.newestFirst ? !page.descending : page.descending;
  return {
    where: and(
      page.afterId !== undefined ? older(key, cast(page.afterId)) : undefined,
      page.beforeId !== undefined ? newer(key, cast(page.beforeId)) : undefined,
    ),
    order: backwards ? desc(key) : asc(key),
  };
}
