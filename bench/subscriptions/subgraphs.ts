/**
 * The two subgraphs of the subscription benchmark, in one process, written for it with
 * @apollo/subgraph + graphql-yoga (HTTP) + graphql-ws (WebSocket):
 *
 *   deployments (base+1)  owns `Subscription.deploymentUpdated(id)` and `Deployment @key(id)`, whose
 *                         `creator` is a `User` it only references; publishes the events.
 *   users       (base+2)  owns `User @key(id) { name }`: every event needs one entity fetch here.
 *
 * They are not what is measured, so they are made cheap, alike for every gateway:
 *   - subscriptions over graphql-ws at ws://…/graphql, executed once per event and per distinct
 *     operation (document + variables), whoever subscribed how many times: a gateway that sends
 *     one upstream subscription per client costs this process one WebSocket message per client
 *     and event, not one GraphQL execution (see `SharedStreams`);
 *   - users memoises its HTTP answers by request body, like bench/gateway/subgraphs.ts.
 * Neither checks the `x-construct-credential` header Construct's gateway sends.
 *
 * Control and statistics, on the deployments port (the driver uses them):
 *   GET  /__stats                     counters since the last reset (DeploymentsStats)
 *   POST /__reset                     zeroes the counters
 *   POST /__publisher {rate,distinct} publishes `rate` events a second over deployments 0…distinct-1,
 *                                     round robin (rate 0 stops)
 *   POST /__publish {index}           publishes one event of that deployment now
 *   POST /__window {from,to,distinct} counts events stamped in [from, to) (monotonic ms), per deployment
 * and GET /__stats on the users port ({ requests }). Both answer GET /health/ready.
 *
 * Run standalone: `tsx bench/subscriptions/subgraphs.ts` (BENCH_SUBGRAPH_PORT_BASE, default 4400).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { buildSubgraphSchema } from '@apollo/subgraph';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLSchema,
  subscribe as graphqlSubscribe,
  parse,
  print,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createPubSub, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { benchVariable } from '../common/options';
import { readBody } from '../common/processes';
import { ResponseMemo, serveMemoised } from '../common/response-memo';
import { assertSingleGraphql } from '../gateway/single-graphql';
import {
  creatorIdOf,
  DEFAULT_SUBGRAPH_PORT_BASE,
  type DeploymentsStats,
  deploymentId,
  monotonicMs,
  type UsersStats,
  userName,
} from './model';

const link = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])`;

export const DEPLOYMENTS_TYPE_DEFS: DocumentNode = parse(/* GraphQL */ `
  ${link}

  type Query {
    deployment(id: ID!): Deployment
  }

  type Subscription {
    deploymentUpdated(id: ID!): Deployment
  }

  enum DeploymentStatus {
    QUEUED
    BUILDING
    DEPLOYING
    READY
  }

  type Deployment @key(fields: "id") {
    id: ID!
    status: DeploymentStatus!
    "Increments with every event of this deployment: clients find lost and repeated events with it."
    sequence: Int!
    "When the event was published, in ms of the machine's monotonic clock (process.hrtime)."
    publishedAt: Float!
    creatorId: ID!
    creator: User
  }

  type User @key(fields: "id", resolvable: false) {
    id: ID!
  }
`);

export const USERS_TYPE_DEFS: DocumentNode = parse(/* GraphQL */ `
  ${link}

  type Query {
    user(id: ID!): User
  }

  type User @key(fields: "id") {
    id: ID!
    name: String!
  }
`);

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

const STATUSES = ['QUEUED', 'BUILDING', 'DEPLOYING', 'READY'] as const;

interface DeploymentEvent {
  id: string;
  status: (typeof STATUSES)[number];
  sequence: number;
  publishedAt: number;
  creatorId: string;
}

type Topics = { deploymentUpdated: [id: string, event: DeploymentEvent] };

/** Publishes events at a fixed rate, open loop: a late tick catches up, stamped when it really publishes. */
class Publisher {
  private readonly sequences = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private window = { from: 0, to: 0, counts: [] as number[] };
  published = 0;

  constructor(private readonly pubSub: ReturnType<typeof createPubSub<Topics>>) {}

  publish(index: number): void {
    const sequence = (this.sequences.get(index) ?? 0) + 1;
    this.sequences.set(index, sequence);
    const id = deploymentId(index);
    const publishedAt = monotonicMs();
    this.published++;
    const { from, to, counts } = this.window;
    if (publishedAt >= from && publishedAt < to && index < counts.length) counts[index]!++;
    this.pubSub.publish('deploymentUpdated', id, {
      id,
      status: STATUSES[sequence % STATUSES.length]!,
      sequence,
      publishedAt,
      creatorId: creatorIdOf(index),
    });
  }

  start(rate: number, distinct: number): void {
    this.stop();
    if (rate <= 0) return;
    const startedAt = monotonicMs();
    let sent = 0;
    // A 1 ms timer rather than one timer per event: at 1,000 events/s that is about one event a
    // tick, and the rate holds however late the ticks come.
    const tick = (): void => {
      const due = Math.floor(((monotonicMs() - startedAt) * rate) / 1000);
      for (; sent < due; sent++) this.publish(sent % distinct);
      this.timer = setTimeout(tick, 1);
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  setWindow(from: number, to: number, distinct: number): void {
    this.window = { from, to, counts: new Array<number>(distinct).fill(0) };
  }

  get publishedInWindow(): number[] {
    return this.window.counts;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared subscription streams
// ---------------------------------------------------------------------------------------------

/** A push-fed async iterator: what graphql-ws reads one subscriber's results from. */
class Channel<T> implements AsyncIterableIterator<T> {
  private readonly buffered: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  private done = false;

  constructor(private readonly onReturn: () => void) {}

  push(value: T): void {
    if (this.done) return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting({ value, done: false });
    } else {
      this.buffered.push(value);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffered.length > 0) return Promise.resolve({ value: this.buffered.shift()!, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.done) {
      this.done = true;
      this.buffered.length = 0;
      this.waiting?.({ value: undefined, done: true });
      this.waiting = undefined;
      this.onReturn();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(): Promise<IteratorResult<T>> {
    return this.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

interface SharedStream {
  key: string;
  channels: Set<Channel<ExecutionResult>>;
  source: Promise<AsyncGenerator<ExecutionResult> | ExecutionResult>;
  closed: boolean;
}

/**
 * Identical subscriptions (same document, operation and variables) share one graphql-js
 * execution per event, whichever socket they came on: the subgraph's cost per event is one
 * execution per distinct operation plus one message per subscription, so a gateway that does
 * not deduplicate its upstream subscriptions is not slowed down by a subgraph it overloads.
 */
class SharedStreams {
  private readonly streams = new Map<string, SharedStream>();
  active = 0;
  peakActive = 0;

  get size(): number {
    return this.streams.size;
  }

  async subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const key = `${args.operationName ?? ''}\u0000${print(args.document)}\u0000${JSON.stringify(args.variableValues ?? {})}`;
    let stream = this.streams.get(key);
    if (!stream) {
      const created: SharedStream = {
        key,
        channels: new Set(),
        source: Promise.resolve(graphqlSubscribe(args)),
        closed: false,
      };
      this.streams.set(key, created);
      void created.source.then((source) => {
        if (Symbol.asyncIterator in source) void this.pump(created, source);
        else this.close(created);
      });
      stream = created;
    }
    const source = await stream.source;
    if (!(Symbol.asyncIterator in source)) return source;
    // Its last subscriber left while this one waited: start a stream of its own.
    if (stream.closed) return this.subscribe(args);
    const owner = stream;
    const channel: Channel<ExecutionResult> = new Channel(() => {
      owner.channels.delete(channel);
      this.active--;
      if (owner.channels.size === 0) {
        this.close(owner);
        void source.return(undefined);
      }
    });
    owner.channels.add(channel);
    this.active++;
    this.peakActive = Math.max(this.peakActive, this.active);
    return channel;
  }

  private async pump(stream: SharedStream, source: AsyncGenerator<ExecutionResult>): Promise<void> {
    for await (const result of source) {
      for (const channel of stream.channels) channel.push(result);
    }
  }

  private close(stream: SharedStream): void {
    stream.closed = true;
    if (this.streams.get(stream.key) === stream) this.streams.delete(stream.key);
  }
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

// @apollo/subgraph does not export its resolver-map type; take it from buildSubgraphSchema's signature.
type LegacySchemaModule = Exclude<Parameters<typeof buildSubgraphSchema>[0], DocumentNode | unknown[]>;
type ResolverMap = NonNullable<LegacySchemaModule['resolvers']>;

function deploymentsSchema(pubSub: ReturnType<typeof createPubSub<Topics>>): GraphQLSchema {
  const resolvers: ResolverMap = {
    Query: {
      deployment: (_: unknown, { id }: { id: string }) => ({ id }),
    },
    Subscription: {
      deploymentUpdated: {
        subscribe: (_: unknown, { id }: { id: string }) => pubSub.subscribe('deploymentUpdated', id),
        resolve: (event: DeploymentEvent) => event,
      },
    },
    Deployment: {
      creator: (deployment: DeploymentEvent) => ({ id: deployment.creatorId }),
    },
  };
  return buildSubgraphSchema([{ typeDefs: DEPLOYMENTS_TYPE_DEFS, resolvers }]);
}

function usersSchema(): GraphQLSchema {
  const resolvers: ResolverMap = {
    Query: {
      user: (_: unknown, { id }: { id: string }) => ({ id, name: userName(id) }),
    },
    User: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id, name: userName(ref.id) }),
    },
  };
  return buildSubgraphSchema([{ typeDefs: USERS_TYPE_DEFS, resolvers }]);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Construct's gateway checks its subgraphs' readiness before it reports ready itself. */
function isHealthProbe(req: IncomingMessage): boolean {
  return req.method === 'GET' && (req.url === '/health' || req.url === '/health/ready');
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

function startDeployments(): { server: Server; close(): Promise<void> } {
  const pubSub = createPubSub<Topics>();
  const publisher = new Publisher(pubSub);
  const schema = deploymentsSchema(pubSub);
  const streams = new SharedStreams();
  const counters = { socketsOpened: 0, subscribeOperations: 0, messagesSent: 0, httpRequests: 0 };
  const yoga = createYoga({ schema, graphiql: false, landingPage: false, logging: false });

  const server = createServer((req, res) => {
    if (isHealthProbe(req)) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (req.method === 'GET' && req.url === '/__stats') {
      const stats: DeploymentsStats = {
        socketsOpened: counters.socketsOpened,
        socketsOpen: wss.clients.size,
        subscribeOperations: counters.subscribeOperations,
        activeSubscriptions: streams.active,
        peakActiveSubscriptions: streams.peakActive,
        sharedStreams: streams.size,
        published: publisher.published,
        publishedInWindow: publisher.publishedInWindow,
        messagesSent: counters.messagesSent,
        httpRequests: counters.httpRequests,
      };
      sendJson(res, 200, stats);
      return;
    }
    if (req.method === 'POST' && req.url?.startsWith('/__')) {
      void readBody(req).then((text) => {
        const body = (text ? JSON.parse(text) : {}) as Record<string, number>;
        if (req.url === '/__reset') {
          counters.socketsOpened = 0;
          counters.subscribeOperations = 0;
          counters.messagesSent = 0;
          counters.httpRequests = 0;
          streams.peakActive = streams.active;
        } else if (req.url === '/__publisher') {
          publisher.start(body.rate ?? 0, Math.max(1, body.distinct ?? 1));
        } else if (req.url === '/__publish') {
          publisher.publish(body.index ?? 0);
        } else if (req.url === '/__window') {
          publisher.setWindow(body.from ?? 0, body.to ?? 0, body.distinct ?? 0);
        } else {
          sendJson(res, 404, { error: `unknown control ${req.url}` });
          return;
        }
        sendJson(res, 200, { ok: true });
      });
      return;
    }
    counters.httpRequests++;
    void yoga.requestListener(req, res);
  });

  const wss = new WebSocketServer({ server, path: '/graphql' });
  wss.on('connection', () => {
    counters.socketsOpened++;
  });
  useServer(
    {
      schema,
      // No 3 s deadline for `connection_init`: a gateway busy taking a flood of client subscribes
      // may open its upstream socket and only get to initialise it later. The subgraph is not
      // what is measured; it must not drop a gateway's connection for being slow.
      connectionInitWaitTimeout: 0,
      onSubscribe: () => {
        counters.subscribeOperations++;
      },
      subscribe: (args) => streams.subscribe(args),
      onNext: () => {
        counters.messagesSent++;
      },
    },
    wss,
    // No keep-alive pings either, for the same reason: a gateway whose event loop is swamped
    // would miss a pong and lose every upstream subscription at once.
    0,
  );

  return {
    server,
    close: async () => {
      publisher.stop();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function startUsers(): { server: Server; close(): Promise<void> } {
  const yoga = createYoga({ schema: usersSchema(), graphiql: false, landingPage: false, logging: false });
  // Keyed by the exact request body: a gateway asks for the same few users again and again, and
  // after the first answer (real GraphQL execution) each is a byte copy.
  const memo = new ResponseMemo(10_000);
  let requests = 0;

  const server = createServer((req, res) => {
    if (isHealthProbe(req)) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (req.method === 'GET' && req.url === '/__stats') {
      sendJson(res, 200, { requests } satisfies UsersStats);
      return;
    }
    if (req.method === 'POST' && req.url === '/__reset') {
      requests = 0;
      sendJson(res, 200, { ok: true });
      return;
    }
    requests++;
    if (req.method !== 'POST') {
      void yoga.requestListener(req, res);
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
  return {
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function startSubgraphs(portBase = DEFAULT_SUBGRAPH_PORT_BASE): Promise<() => Promise<void>> {
  const deployments = startDeployments();
  const users = startUsers();
  await listen(deployments.server, portBase + 1);
  await listen(users.server, portBase + 2);
  return async () => {
    await Promise.all([deployments.close(), users.close()]);
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  assertSingleGraphql(['@apollo/subgraph', 'graphql-yoga', 'graphql-ws']);
  const portBase = Number(benchVariable('BENCH_SUBGRAPH_PORT_BASE') ?? DEFAULT_SUBGRAPH_PORT_BASE);
  const close = await startSubgraphs(portBase);
  // The driver waits for this exact line.
  console.log(`subgraphs ready: deployments on ${portBase + 1}, users on ${portBase + 2}`);
  const stop = (): void => {
    void close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
