import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  type ConnectionArgs,
  encodeCursor,
  keysetConnection,
  MAX_PAGE_SIZE,
  type PageQuery,
} from './pagination';

/** Rows with time-ordered ids, and a loader that reads them as the storage layer would. */
const rows = Array.from({ length: 250 }, (_, i) => ({ id: `row_${String(i).padStart(4, '0')}`, n: i }));

function createLoader() {
  const queries: PageQuery[] = [];
  const load = async (query: PageQuery) => {
    queries.push(query);
    let matching = rows.filter(
      (row) =>
        (query.afterId === undefined || row.id > query.afterId) &&
        (query.beforeId === undefined || row.id < query.beforeId),
    );
    if (query.descending) matching = [...matching].reverse();
    return matching.slice(0, query.limit);
  };
  return { load, queries };
}

async function page(args: ConnectionArgs) {
  const { load, queries } = createLoader();
  const connection = await keysetConnection(args, load);
  return { ...connection, numbers: connection.edges.map((edge) => edge.node.n), queries };
}

async function refusal(args: ConnectionArgs): Promise<GraphQLError> {
  const { load, queries } = createLoader();
  const error = await keysetConnection(args, load).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphQLError);
  expect(queries).toEqual([]); // refused before any read
  return error as GraphQLError;
}

describe('keysetConnection', () => {
  it('returns the first page by default, 20 items, with a next page', async () => {
    const result = await page({});
    expect(result.numbers).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(result.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
  });

  it('pages forwards with first/after, from cursor to cursor, to the end', async () => {
    const seen: number[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const result = await page({ first: 100, after });
      seen.push(...result.numbers);
      pages++;
      expect(result.pageInfo.hasPreviousPage).toBe(after !== null);
      if (!result.pageInfo.hasNextPage) break;
      after = result.pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(rows.map((row) => row.n));
  });

  it('pages backwards with last/before, each page in list order', async () => {
    const last = await page({ last: 3 });
    expect(last.numbers).toEqual([247, 248, 249]);
    expect(last.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });

    const before = await page({ last: 3, before: last.pageInfo.startCursor });
    expect(before.numbers).toEqual([244, 245, 246]);
    expect(before.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });

    const start = await page({ last: 5, before: encodeCursor(rows[2]!.id) });
    expect(start.numbers).toEqual([0, 1]);
    expect(start.pageInfo.hasPreviousPage).toBe(false);
  });

  it('gives every edge the cursor of its node, and the page its first and last cursors', async () => {
    const result = await page({ first: 3, after: encodeCursor(rows[9]!.id) });
    expect(result.numbers).toEqual([10, 11, 12]);
    expect(result.edges.map((edge) => edge.cursor)).toEqual(
      [10, 11, 12].map((i) => encodeCursor(rows[i]!.id)),
    );
    expect(result.pageInfo.startCursor).toBe(result.edges[0]!.cursor);
    expect(result.pageInfo.endCursor).toBe(result.edges[2]!.cursor);
    // One row more than asked, to know whether another page follows.
    expect(result.queries).toEqual([
      { afterId: rows[9]!.id, beforeId: undefined, limit: 4, descending: false },
    ]);
  });

  it('reports no next page when the last page is exactly full', async () => {
    const result = await page({ first: 10, after: encodeCursor(rows[239]!.id) });
    expect(result.numbers).toEqual(Array.from({ length: 10 }, (_, i) => 240 + i));
    expect(result.pageInfo.hasNextPage).toBe(false);
  });

  it('allows first: 0, an empty page that reads nothing', async () => {
    const result = await page({ first: 0 });
    expect(result.edges).toEqual([]);
    expect(result.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: null,
      endCursor: null,
    });
    expect(result.queries).toEqual([]);
  });

  it(`allows ${MAX_PAGE_SIZE} items and refuses ${MAX_PAGE_SIZE + 1}, naming the argument`, async () => {
    expect((await page({ first: MAX_PAGE_SIZE })).edges).toHaveLength(MAX_PAGE_SIZE);
    for (const argument of ['first', 'last'] as const) {
      const error = await refusal({ [argument]: MAX_PAGE_SIZE + 1 });
      expect(error.message).toContain(`\`${argument}\``);
      expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', argument });
    }
    expect((await refusal({ first: -1 })).extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses first and last together', async () => {
    const error = await refusal({ first: 2, last: 2 });
    expect(error.message).toMatch(/`first` or `last`, not both/);
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
  });

  it.each([
    ['base64 of something else', 'bm90LWEtY3Vyc29y'],
    ['the prefix alone', Buffer.from('c1:').toString('base64url')],
    ['not base64 at all', '!!!'],
  ])('refuses a forged cursor (%s), naming the argument', async (_, cursor) => {
    for (const argument of ['after', 'before'] as const) {
      const error = await refusal({ first: 2, [argument]: cursor });
      expect(error.message).toBe(`\`${argument}\` is not a cursor this list gave out.`);
      expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', argument });
    }
  });
});
