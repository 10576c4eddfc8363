import { CloseCode } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createOrganization, createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import {
  codesOf,
  createProjectAndDeployment,
  openRawSocket,
  type RawSocket,
  record,
  sleep,
  until,
  type WireError,
  wsClients,
} from './support/subscriptions';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * What the gateway's graphql-ws endpoint refuses, and how: tokens, documents the HTTP endpoint
 * would refuse, the protocol's own rules (with a bare socket, since client libraries never break
 * them) and the per-connection subscription limit.
 */

const MAX_SUBSCRIPTIONS = 5;

let supergraph: TestSupergraph;
let owner: TestUser;
let organizationId: string;
let repo: GitRepository;
let deploymentId: string;
let projectId: string;
let clients: ReturnType<typeof wsClients>;
const sockets: RawSocket[] = [];

beforeAll(async () => {
  supergraph = await startTestSupergraph({ MAX_SUBSCRIPTIONS_PER_CONNECTION: String(MAX_SUBSCRIPTIONS) });
  clients = wsClients(supergraph.url);
  owner = await createUser(supergraph.databases, 'Pat Protocol');
  ({ id: organizationId } = await createOrganization(supergraph.databases, [{ user: owner, role: 'OWNER' }]));
  repo = await createGitRepository('node-server');
  ({
    projectId,
    deployment: { id: deploymentId },
  } = await createProjectAndDeployment(supergraph.url, owner, organizationId, 'protocol-app', repo.url));
});

afterAll(async () => {
  for (const raw of sockets) raw.socket.terminate();
  await clients?.disposeAll();
  await supergraph?.close();
  await repo?.cleanup();
});

async function rawSocket(): Promise<RawSocket> {
  const raw = await openRawSocket(supergraph.url);
  sockets.push(raw);
  return raw;
}

/** A raw socket past `connection_ack`, as the owner. */
async function acknowledgedSocket(): Promise<RawSocket> {
  const raw = await rawSocket();
  raw.send({ type: 'connection_init', payload: { authorization: owner.headers.authorization } });
  await raw.next('connection_ack');
  return raw;
}

const STATUS = 'subscription ($id: ID!) { deploymentUpdated(id: $id) { id status } }';
let named = 0;
/**
 * STATUS under a name of its own: a stream no earlier test of the session shares, so its first
 * event is the deployment's state now (a late joiner of a shared stream gets none, see the
 * BUG test in gateway-subscriptions.test.ts).
 */
const freshStatus = () =>
  `subscription Status${++named}($id: ID!) { deploymentUpdated(id: $id) { id status } }`;
/** A subscription that stays open without an event: nothing is deployed to this project meanwhile. */
const QUIET = 'subscription ($id: ID!) { projectDeploymentsUpdated(projectId: $id) { id } }';

describe('tokens', () => {
  test('an invalid token in connection_init: the socket is closed with 4403', async () => {
    const client = clients.open('Bearer not.a.token');
    const stream = record(client, STATUS, { id: deploymentId });
    await until(
      'the socket to close',
      () => stream.closed !== undefined,
      10_000,
      () => stream,
    );
    expect(stream.closed?.code).toBe(CloseCode.Forbidden);
    expect(stream.values).toEqual([]);
  });

  test('no token: the subgraph’s UNAUTHENTICATED error is passed through and the stream completes', async () => {
    const stream = record(clients.open(), STATUS, { id: deploymentId });
    await until(
      'the stream to end',
      () => stream.ended,
      10_000,
      () => stream,
    );
    expect(stream.completed).toBe(true);
    expect(stream.values).toEqual([]);
    expect(codesOf(stream.errors)).toEqual(['UNAUTHENTICATED']);
  });

  // Apollo's executor names the fetch an error came from in `extensions.serviceName`. For a query
  // that is the subgraph ("deployments"); for a subscription event it is the hub's stand-in
  // service (gateway/src/subscriptions.ts, `deliver`: `{ ...primary, serviceName: EVENT_SERVICE }`),
  // so clients see `serviceName: "__subscription_event__"`, an internal name no query ever shows.
  // Repro: subscribe to deploymentUpdated without a token; compare with an anonymous
  // `mutation { createDeployment(...) }`, whose error says `serviceName: "deployments"`.
  test('a subgraph’s error in a subscription names the subgraph, as a query’s error does', async () => {
    const query = await supergraph.query(
      'mutation ($input: CreateDeploymentInput!) { createDeployment(input: $input) { deployment { id } } }',
      { input: { projectId } },
    );
    expect(query.body.errors?.[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      serviceName: 'deployments',
    });
    const stream = record(clients.open(), STATUS, { id: deploymentId });
    await until(
      'the stream to end',
      () => stream.ended,
      10_000,
      () => stream,
    );
    expect(stream.errors[0]?.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      serviceName: 'deployments',
    });
  });
});

describe('documents the HTTP endpoint refuses', () => {
  /** The errors the HTTP endpoint answers for the same document: message and code are the contract. */
  async function httpErrors(query: string) {
    const { status, body } = await supergraph.query(query, { id: deploymentId }, owner.headers);
    expect(status).toBe(400);
    return (body.errors ?? []).map((e) => ({ message: e.message, code: e.extensions?.code }));
  }

  /**
   * Sends `query` on a connection that also follows a healthy subscription: the refused one
   * fails alone, with the HTTP endpoint's errors, and the connection and the other stream go on.
   */
  async function expectRefusedLikeHttp(query: string) {
    const expected = await httpErrors(query);
    expect(expected.map((e) => e.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const client = clients.open(owner.headers.authorization);
    const healthy = record(client, QUIET, { id: projectId });
    const refused = record(client, query, { id: deploymentId });
    await until(
      'the refusal',
      () => refused.ended,
      10_000,
      () => refused,
    );
    expect(refused.closed, 'the socket was closed instead of the operation refused').toBeUndefined();
    expect(refused.errors.map((e: WireError) => ({ message: e.message, code: e.extensions?.code }))).toEqual(
      expected,
    );
    expect(healthy.ended).toBe(false);
    // The connection still takes subscriptions.
    const after = record<{ deploymentUpdated: { id: string } }>(client, freshStatus(), { id: deploymentId });
    await until(
      'an event after the refusal',
      () => after.values.length > 0,
      15_000,
      () => after,
    );
    expect(healthy.ended).toBe(false);
  }

  test('an unknown field: GRAPHQL_VALIDATION_FAILED, as for a query', async () => {
    await expectRefusedLikeHttp('subscription ($id: ID!) { deploymentUpdated(id: $id) { id nope } }');
  });

  // gateway/src/websocket.ts, onSubscribe: `enveloped.parse` is in a try/catch, but
  // `enveloped.validate(...)` (line 108) is not, and graphql-armor's depth, alias and cost rules
  // throw their GraphQLError from inside validation instead of reporting it. The throw escapes
  // graphql-ws's message handler, which closes the whole socket with 4500 and the error's text
  // as the reason: the client gets no GRAPHQL_VALIDATION_FAILED error, and every other
  // subscription on the connection dies with it. Fix: catch around validate as around parse.
  test('a too-deep subscription (MAX_DEPTH) is refused like a query, without closing the socket', async () => {
    const depth = 8; // twice as many levels as this, past the default MAX_DEPTH of 15
    await expectRefusedLikeHttp(
      `subscription ($id: ID!) { deploymentUpdated(id: $id) { ${'project { productionDeployment { '.repeat(depth)} id ${'} } '.repeat(depth)} } }`,
    );
  });

  // Same cause as the depth limit above (MAX_ALIASES, default 30).
  test('a subscription with too many aliases (MAX_ALIASES) is refused like a query, without closing the socket', async () => {
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: id`).join(' ');
    await expectRefusedLikeHttp(`subscription ($id: ID!) { deploymentUpdated(id: $id) { ${aliases} } }`);
  });
});

describe('the graphql-transport-ws protocol', () => {
  test('a second connection_init: closed with 4429', async () => {
    const raw = await acknowledgedSocket();
    raw.send({ type: 'connection_init', payload: { authorization: owner.headers.authorization } });
    expect((await raw.closed).code).toBe(CloseCode.TooManyInitialisationRequests);
  });

  test('a subscribe before connection_ack: closed with 4401', async () => {
    const raw = await rawSocket();
    raw.send({ type: 'subscribe', id: '1', payload: { query: STATUS, variables: { id: deploymentId } } });
    expect((await raw.closed).code).toBe(CloseCode.Unauthorized);
    expect(raw.messages.filter((m) => m.type === 'next')).toEqual([]);
  });

  test('an operation id already in use: closed with 4409', async () => {
    const raw = await acknowledgedSocket();
    const subscribe = {
      type: 'subscribe',
      id: 'same',
      payload: { query: QUIET, variables: { id: projectId } },
    };
    raw.send(subscribe);
    raw.send(subscribe);
    expect((await raw.closed).code).toBe(CloseCode.SubscriberAlreadyExists);
  });

  test('no connection_init within the wait timeout: closed with 4408', async () => {
    const raw = await rawSocket();
    const startedAt = Date.now();
    const closed = await Promise.race([
      raw.closed,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
    ]);
    expect(closed?.code).toBe(CloseCode.ConnectionInitialisationTimeout);
    // graphql-ws waits 3 s by default: not closed at once, as for a refused token.
    expect(Date.now() - startedAt).toBeGreaterThan(2_000);
  });
});

describe(`at most ${MAX_SUBSCRIPTIONS} subscriptions per connection`, () => {
  test('the extra ones get RATE_LIMITED; those already open go on, and a completed one frees its place', async () => {
    const client = clients.open(owner.headers.authorization);
    const open = Array.from({ length: MAX_SUBSCRIPTIONS }, () => record(client, QUIET, { id: projectId }));
    const extra = [record(client, QUIET, { id: projectId }), record(client, STATUS, { id: deploymentId })];
    await until(
      'the extra subscriptions to be refused',
      () => extra.every((s) => s.ended),
      10_000,
      () => extra,
    );
    for (const refused of extra) {
      expect(refused.closed).toBeUndefined();
      expect(codesOf(refused.errors)).toEqual(['RATE_LIMITED']);
      expect(refused.values).toEqual([]);
    }
    expect(open.some((s) => s.ended)).toBe(false);

    open[0]!.dispose();
    // The place is freed once the completed stream has wound down, a moment later: retry until then.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const replacement = record<{ deploymentUpdated: { id: string } }>(client, freshStatus(), {
        id: deploymentId,
      });
      await until(
        'the replacement’s answer',
        () => replacement.values.length > 0 || replacement.ended,
        15_000,
      );
      if (replacement.values.length > 0) break;
      expect(codesOf(replacement.errors)).toEqual(['RATE_LIMITED']);
      if (Date.now() > deadline) throw new Error('the completed subscription never freed its place');
      await sleep(50);
    }
  });

  // gateway/src/websocket.ts counts a connection's subscriptions in `connection.subscriptions`
  // and removes an id in `onComplete`. graphql-ws calls `onComplete` only after the completed
  // operation's iterator has returned and its `for await` loop has ended, several ticks after
  // the client's `complete` message was handled. A client at the limit that completes one
  // subscription and subscribes another right away (a dashboard switching deployments: Apollo
  // Client unsubscribes and subscribes in the same tick) is refused with RATE_LIMITED although
  // it holds fewer than the limit. Fix: count graphql-ws's own `ctx.subscriptions` (updated as
  // soon as `complete` is handled), or remove the id when the `complete` message arrives.
  test('a subscribe right after a complete takes the freed place (not RATE_LIMITED)', async () => {
    const raw = await acknowledgedSocket();
    for (let i = 0; i < MAX_SUBSCRIPTIONS; i++) {
      raw.send({
        type: 'subscribe',
        id: `quiet-${i}`,
        payload: { query: QUIET, variables: { id: projectId } },
      });
    }
    // A refused extra proves the connection is full (and that the five were taken).
    raw.send({ type: 'subscribe', id: 'extra', payload: { query: QUIET, variables: { id: projectId } } });
    expect(codesOf((await raw.next('error', 'extra')).payload as WireError[])).toEqual(['RATE_LIMITED']);

    raw.send({ type: 'complete', id: 'quiet-0' });
    raw.send({
      type: 'subscribe',
      id: 'switched',
      payload: { query: freshStatus(), variables: { id: deploymentId } },
    });
    const answer = await Promise.race([raw.next('next', 'switched'), raw.next('error', 'switched')]);
    expect(answer.type, JSON.stringify(answer.payload)).toBe('next');
  });

  test('subscriptions the server ended (NOT_FOUND) free their places too', async () => {
    const client = clients.open(owner.headers.authorization);
    const missing = Array.from({ length: MAX_SUBSCRIPTIONS }, (_, i) =>
      record(client, STATUS, { id: `dpl_missing${i}` }),
    );
    await until(
      'the refusals',
      () => missing.every((s) => s.completed),
      15_000,
      () => missing,
    );
    expect(missing.flatMap((s) => codesOf(s.errors))).toEqual(Array(MAX_SUBSCRIPTIONS).fill('NOT_FOUND'));
    const next = Array.from({ length: MAX_SUBSCRIPTIONS }, () => record(client, QUIET, { id: projectId }));
    const last = record<{ deploymentUpdated: { id: string } }>(client, STATUS, { id: deploymentId });
    await until(
      'the sixth to be refused',
      () => last.ended,
      10_000,
      () => last,
    );
    expect(codesOf(last.errors)).toEqual(['RATE_LIMITED']);
    expect(next.some((s) => s.ended)).toBe(false);
  });
});
