/**
 * The four subgraphs of the classic federation gateway benchmark (accounts, inventory, products,
 * reviews), written for Construct's bench with graphql-yoga + @apollo/subgraph, Federation 2.
 *
 * They are not what the benchmark measures, so they are built to cost as little CPU as possible:
 *   - all four live in ONE process, each on its own port;
 *   - data is static and in memory;
 *   - each subgraph memoises its responses by the exact request body (see `ResponseMemo`). The
 *     benchmark sends one fixed operation, so every gateway sends the same few subgraph requests
 *     over and over; after the first of each, a subgraph answers with a cached byte string and
 *     does no GraphQL work at all. The first answer is still computed by real GraphQL execution, so
 *     results stay correct. Set BENCH_SUBGRAPH_MEMO=0 to turn this off.
 *
 * Run standalone: `tsx bench/gateway/subgraphs.ts` (ports 4201-4204, or BENCH_SUBGRAPH_PORT_BASE+1..+4).
 * GET /__stats on any subgraph port answers {"requests":n,"memoHits":n,"memoMisses":n} for that
 * subgraph, so the driver can tell how many subgraph calls a gateway makes per operation.
 */
import { createServer, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { type DocumentNode, parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { benchVariable } from '../common/options';
import { ResponseMemo, serveMemoised } from '../common/response-memo';
import { assertSingleGraphql } from './single-graphql';

// Federation 2 preamble shared by every subgraph.
const link = (imports: string[]): string =>
  `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [${imports
    .map((name) => `"${name}"`)
    .join(', ')}])`;

// ---------------------------------------------------------------------------------------------
// Static data. Invented for Construct's bench; shaped like the classic benchmark's (6 users,
// 9 products, a dozen reviews spread over the first products, two reviews per user).
// ---------------------------------------------------------------------------------------------

interface UserRow {
  id: string;
  name: string;
  username: string;
}

interface ProductRow {
  upc: string;
  name: string;
  price: number;
  weight: number;
}

interface ReviewRow {
  id: string;
  body: string;
  authorId: string;
  upc: string;
}

const USERS: readonly UserRow[] = [
  { id: '1', name: 'Ada Lovelace', username: 'ada' },
  { id: '2', name: 'Alan Turing', username: 'aturing' },
  { id: '3', name: 'Grace Hopper', username: 'ghopper' },
  { id: '4', name: 'Edsger Dijkstra', username: 'ewd' },
  { id: '5', name: 'Barbara Liskov', username: 'bliskov' },
  { id: '6', name: 'Donald Knuth', username: 'dek' },
];

const PRODUCTS: readonly ProductRow[] = [
  { upc: '1', name: 'Desk', price: 899, weight: 100 },
  { upc: '2', name: 'Sofa', price: 1299, weight: 1000 },
  { upc: '3', name: 'Mug', price: 15, weight: 20 },
  { upc: '4', name: 'Stool', price: 499, weight: 100 },
  { upc: '5', name: 'Monitor', price: 1299, weight: 1000 },
  { upc: '6', name: 'Floor lamp', price: 6999, weight: 300 },
  { upc: '7', name: 'Barbecue', price: 3999, weight: 2000 },
  { upc: '8', name: 'Freezer', price: 100000, weight: 6000 },
  { upc: '9', name: 'Armchair', price: 9999, weight: 800 },
];

const IN_STOCK: ReadonlyMap<string, boolean> = new Map([
  ['1', true],
  ['2', false],
  ['3', false],
  ['4', false],
  ['5', true],
  ['6', true],
  ['7', true],
  ['8', false],
  ['9', true],
]);

// Bodies of varied length, so that responses are of a realistic size (the deep query repeats them).
const BODIES = [
  'Solid build and it arrived a day early. The finish scratches more easily than I expected, but for the price I have no real complaint.',
  'Does what it says. Assembly took twenty minutes with the included tools.',
  'I bought a second one for the office after a month with the first. The only thing I would change is the colour range, which is rather limited, and the instructions, which assume you have done this before.',
  'Returned it: the size on the page did not match what came in the box.',
  'Comfortable, quiet and sturdy. The delivery crew was careful with the stairs and took the packaging away, which I appreciated more than I thought I would.',
  'Fine for everyday use. Not the best I have owned, not the worst either.',
  'After six months of daily use it still looks new. Cleaning is easy, nothing rattles, and the customer service answered my one question within the hour. I would recommend it to anyone setting up a small flat and wanting something that lasts longer than a season.',
  'Great value.',
];

// Two reviews per user; products 1-6 have reviews, 7-9 have none.
const REVIEW_PRODUCTS = ['1', '1', '1', '2', '2', '3', '3', '4', '4', '5', '5', '6'];
const REVIEWS: readonly ReviewRow[] = REVIEW_PRODUCTS.map((upc, index) => ({
  id: String(index + 1),
  body: BODIES[index % BODIES.length]!,
  authorId: String((index % USERS.length) + 1),
  upc,
}));

const usersById = new Map(USERS.map((user) => [user.id, user]));
const productsByUpc = new Map(PRODUCTS.map((product) => [product.upc, product]));
const reviewsById = new Map(REVIEWS.map((review) => [review.id, review]));
const reviewsByAuthor = groupBy(REVIEWS, (review) => review.authorId);
const reviewsByProduct = groupBy(REVIEWS, (review) => review.upc);

function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const group = groups.get(k);
    if (group) group.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

// ---------------------------------------------------------------------------------------------
// Subgraph schemas and resolvers.
// ---------------------------------------------------------------------------------------------

// @apollo/subgraph does not export its resolver-map type; take it from buildSubgraphSchema's signature.
type LegacySchemaModule = Exclude<Parameters<typeof buildSubgraphSchema>[0], DocumentNode | unknown[]>;
type ResolverMap = NonNullable<LegacySchemaModule['resolvers']>;

export interface SubgraphDefinition {
  name: 'accounts' | 'inventory' | 'products' | 'reviews';
  typeDefs: DocumentNode;
  resolvers: ResolverMap;
}

const accounts: SubgraphDefinition = {
  name: 'accounts',
  typeDefs: parse(/* GraphQL */ `
    ${link(['@key', '@shareable'])}

    type Query {
      me: User
      users: [User]
    }

    type User @key(fields: "id") {
      id: ID!
      name: String
      # Shareable because the reviews subgraph can also resolve it (Review.author @provides).
      username: String @shareable
    }
  `),
  resolvers: {
    Query: {
      me: () => USERS[0],
      users: () => USERS,
    },
    User: {
      __resolveReference: (ref: { id: string }) => usersById.get(ref.id) ?? null,
    },
  },
};

const inventory: SubgraphDefinition = {
  name: 'inventory',
  typeDefs: parse(/* GraphQL */ `
    ${link(['@key', '@external', '@requires'])}

    type Product @key(fields: "upc") {
      upc: String!
      weight: Int @external
      price: Int @external
      inStock: Boolean
      shippingEstimate: Int @requires(fields: "price weight")
    }
  `),
  resolvers: {
    Product: {
      // The gateway sends price and weight along with the key because of @requires.
      __resolveReference: (ref: { upc: string; price?: number | null; weight?: number | null }) => ({
        ...ref,
        inStock: IN_STOCK.get(ref.upc) ?? null,
      }),
      // Free shipping above 1000, else half the weight.
      shippingEstimate: (product: { price?: number | null; weight?: number | null }) => {
        if (product.price == null || product.weight == null) return null;
        return product.price > 1000 ? 0 : Math.round(product.weight / 2);
      },
    },
  },
};

const products: SubgraphDefinition = {
  name: 'products',
  typeDefs: parse(/* GraphQL */ `
    ${link(['@key'])}

    type Query {
      topProducts(first: Int = 5): [Product]
    }

    type Product @key(fields: "upc") {
      upc: String!
      name: String
      price: Int
      weight: Int
    }
  `),
  resolvers: {
    Query: {
      topProducts: (_: unknown, args: { first?: number | null }) => PRODUCTS.slice(0, args.first ?? 5),
    },
    Product: {
      __resolveReference: (ref: { upc: string }) => productsByUpc.get(ref.upc) ?? null,
    },
  },
};

const reviews: SubgraphDefinition = {
  name: 'reviews',
  typeDefs: parse(/* GraphQL */ `
    ${link(['@key', '@external', '@provides'])}

    type Review @key(fields: "id") {
      id: ID!
      body: String
      author: User @provides(fields: "username")
      product: Product
    }

    type User @key(fields: "id") {
      id: ID!
      username: String @external
      reviews: [Review]
    }

    type Product @key(fields: "upc") {
      upc: String!
      reviews: [Review]
    }
  `),
  resolvers: {
    Review: {
      __resolveReference: (ref: { id: string }) => reviewsById.get(ref.id) ?? null,
      // @provides(fields: "username"): this subgraph vouches for the author's username, so it must
      // be the same value the accounts subgraph holds.
      author: (review: ReviewRow) => ({
        id: review.authorId,
        username: usersById.get(review.authorId)?.username ?? null,
      }),
      product: (review: ReviewRow) => ({ upc: review.upc }),
    },
    User: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
      reviews: (user: { id: string }) => reviewsByAuthor.get(user.id) ?? [],
    },
    Product: {
      __resolveReference: (ref: { upc: string }) => ({ upc: ref.upc }),
      reviews: (product: { upc: string }) => reviewsByProduct.get(product.upc) ?? [],
    },
  },
};

/** In port order: accounts = base+1, inventory = base+2, products = base+3, reviews = base+4. */
export const SUBGRAPHS: readonly SubgraphDefinition[] = [accounts, inventory, products, reviews];

export const DEFAULT_SUBGRAPH_PORT_BASE = 4200;

export function subgraphUrl(index: number, portBase = DEFAULT_SUBGRAPH_PORT_BASE): string {
  return `http://127.0.0.1:${portBase + index + 1}/graphql`;
}

// ---------------------------------------------------------------------------------------------
// HTTP serving.
// ---------------------------------------------------------------------------------------------

export interface RunningSubgraphs {
  urls: string[];
  close(): Promise<void>;
}

export async function startSubgraphs(
  portBase = DEFAULT_SUBGRAPH_PORT_BASE,
  memoEnabled = benchVariable('BENCH_SUBGRAPH_MEMO') !== '0',
): Promise<RunningSubgraphs> {
  const servers: Server[] = [];
  for (const [index, definition] of SUBGRAPHS.entries()) {
    const server = createSubgraphServer(definition, memoEnabled);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(portBase + index + 1, '127.0.0.1', () => resolve());
    });
    servers.push(server);
  }
  return {
    urls: SUBGRAPHS.map((_, index) => subgraphUrl(index, portBase)),
    close: async () => {
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

function createSubgraphServer(definition: SubgraphDefinition, memoEnabled: boolean): Server {
  const yoga = createYoga({
    schema: buildSubgraphSchema([{ typeDefs: definition.typeDefs, resolvers: definition.resolvers }]),
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    logging: false,
  });
  const memo = new ResponseMemo(1000);
  let requests = 0;

  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/__stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requests, memoHits: memo.hits, memoMisses: memo.misses }));
      return;
    }
    // Construct's own subgraphs serve these probes, and Construct's gateway checks subgraphs' readiness.
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/health/ready')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    requests++;
    if (!memoEnabled || req.method !== 'POST') {
      yoga.requestListener(req, res);
      return;
    }
    void serveMemoised(yoga, memo, req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });

  // Gateways keep connections alive; don't let the server drop idle ones mid-benchmark.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  return server;
}

// Run standalone when executed directly (not when imported by compose.ts).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  assertSingleGraphql(['@apollo/subgraph', 'graphql-yoga']);
  const portBase = Number(benchVariable('BENCH_SUBGRAPH_PORT_BASE') ?? DEFAULT_SUBGRAPH_PORT_BASE);
  const running = await startSubgraphs(portBase);
  // The driver waits for this exact line.
  console.log(`subgraphs ready: ${running.urls.join(' ')}`);
  const stop = (): void => {
    void running.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
