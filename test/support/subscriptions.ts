import { readFileSync } from 'node:fs';
import { type Client, type ClientOptions, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { DEPLOYMENT_FIELDS, type DeploymentState } from './edge';
import type { TestUser } from './factories';
import { postGraphQL } from './supergraph';

/**
 * What the subscription tests share: graphql-ws clients that never retry (a test must see the
 * first failure, not a reconnect), a stream recorder, polling with a deadline, a raw
 * `graphql-transport-ws` socket for protocol checks, and a count of a port's TCP connections.
 */

export const wsUrlOf = (httpUrl: string) => httpUrl.replace(/^http/, 'ws');

/** A GraphQL error as clients receive it. */
export interface WireError {
  message: string;
  extensions?: Record<string, unknown>;
}

/** How a graphql-ws socket ended, when it ended a stream rather than an `error` message did. */
export interface SocketClosed {
  code: number;
  reason: string;
}

/** graphql-ws clients that are disposed together (a file's `afterAll`). */
export function wsClients(url: string) {
  const made: Client[] = [];
  return {
    /** A client of the gateway; `authorization` goes in `connection_init`, as browsers must send it. */
    open(authorization?: string, extra: Partial<ClientOptions> = {}): Client {
      const client = createClient({
        url: wsUrlOf(url),
        webSocketImpl: WebSocket,
        connectionParams: authorization ? { authorization } : {},
        retryAttempts: 0,
        ...extra,
      });
      made.push(client);
      return client;
    },
    disposeAll: () => Promise.all(made.splice(0).map((client) => client.dispose())),
  };
}

/** A subscription's results as they arrive: data, errors (GraphQL or a closed socket), completion. */
export interface Recorded<T> {
  values: T[];
  /** GraphQL errors of `next` and `error` messages, in order. */
  errors: WireError[];
  /** Set when the socket closed under the stream. */
  closed: SocketClosed | undefined;
  readonly completed: boolean;
  /** Whether the stream ended, completed or failed. */
  readonly ended: boolean;
  dispose(): void;
}

export function record<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Recorded<T> {
  let completed = false;
  let failed = false;
  const recorded: Recorded<T> = {
    values: [],
    errors: [],
    closed: undefined,
    get completed() {
      return completed;
    },
    get ended() {
      return completed || failed;
    },
    dispose: () => {},
  };
  recorded.dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) recorded.errors.push(...(result.errors as WireError[]));
        if (result.data) recorded.values.push(result.data as T);
      },
      error: (error) => {
        failed = true;
        if (Array.isArray(error)) recorded.errors.push(...(error as WireError[]));
        else if (isCloseEvent(error)) recorded.closed = { code: error.code, reason: error.reason };
        else recorded.errors.push({ message: String(error) });
      },
      complete: () => {
        completed = true;
      },
    },
  );
  return recorded;
}

function isCloseEvent(value: unknown): value is SocketClosed {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;
}

export const codesOf = (errors: readonly WireError[]) => errors.map((error) => error.extensions?.code);

/** Polls `condition` until it holds; fails with `what` (and the state `detail` shows) past the deadline. */
export async function until(
  what: string,
  condition: () => boolean,
  timeoutMs = 30_000,
  detail: () => unknown = () => undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      const shown = detail();
      throw new Error(
        `timed out waiting for ${what}${shown === undefined ? '' : `: ${JSON.stringify(shown)}`}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A bare `graphql-transport-ws` socket: the test writes the protocol's messages itself, to
 * check how the server answers the ones a well-behaved client library never sends.
 */
export interface RawSocket {
  socket: WebSocket;
  /** Every message the server sent, parsed. */
  messages: { type: string; id?: string; payload?: unknown }[];
  /** Resolves with the close code and reason, whoever closed. */
  closed: Promise<SocketClosed>;
  send(message: Record<string, unknown>): void;
  /** Resolves with the first message (already received or to come) of this type. */
  next(
    type: string,
    id?: string,
    timeoutMs?: number,
  ): Promise<{ type: string; id?: string; payload?: unknown }>;
}

export async function openRawSocket(url: string, headers: Record<string, string> = {}): Promise<RawSocket> {
  const socket = new WebSocket(wsUrlOf(url), 'graphql-transport-ws', { headers });
  const messages: RawSocket['messages'] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    for (const wake of waiters) wake();
  });
  const closed = new Promise<SocketClosed>((resolve) =>
    socket.once('close', (code, reason) => {
      resolve({ code, reason: String(reason) });
      for (const wake of waiters) wake();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    closed,
    send: (message) => socket.send(JSON.stringify(message)),
    async next(type, id, timeoutMs = 10_000) {
      const find = () => messages.find((m) => m.type === type && (id === undefined || m.id === id));
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = find();
        if (found) return found;
        if (socket.readyState === WebSocket.CLOSED || Date.now() > deadline) {
          throw new Error(`no ${type} message; got ${JSON.stringify(messages)}`);
        }
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, 100);
          waiters.add(wake);
        });
      }
    },
  };
}

/**
 * Established TCP connections accepted on this local port (server side), from /proc/net/tcp
 * and tcp6: what a subgraph holds open, WebSockets included, whoever the client is.
 */
export function acceptedConnections(port: number): number {
  const ESTABLISHED = '01';
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === ESTABLISHED && Number.parseInt(local!.split(':')[1]!, 16) === port) count++;
    }
  }
  return count;
}

/** A project of the given repository and a deployment of it, created through the gateway as `user`. */
export async function createProjectAndDeployment(
  gatewayUrl: string,
  user: TestUser,
  organizationId: string,
  slug: string,
  sourceUrl: string,
  extra: Record<string, unknown> = {},
): Promise<{ projectId: string; deployment: DeploymentState }> {
  const project = await postGraphQL<{
    createProject: { project: { id: string } | null; userErrors: unknown[] };
  }>(
    gatewayUrl,
    'mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { id } userErrors { field message code } } }',
    { input: { organizationId, name: slug, slug, sourceUrl, ...extra } },
    user.headers,
  );
  const projectId = project.body.data?.createProject.project?.id;
  if (!projectId) throw new Error(`createProject failed: ${JSON.stringify(project.body)}`);
  const created = await postGraphQL<{ createDeployment: { deployment: DeploymentState | null } }>(
    gatewayUrl,
    `mutation ($input: CreateDeploymentInput!) { createDeployment(input: $input) { deployment { ${DEPLOYMENT_FIELDS} } userErrors { field message code } } }`,
    { input: { projectId } },
    user.headers,
  );
  const deployment = created.body.data?.createDeployment.deployment;
  if (!deployment) throw new Error(`createDeployment failed: ${JSON.stringify(created.body)}`);
  return { projectId, deployment };
}

/** Polls a deployment through the gateway at `gatewayUrl` until its status is one of `statuses`. */
export async function waitForStatus(
  gatewayUrl: string,
  user: TestUser,
  id: string,
  statuses: string[],
  timeoutMs = 45_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await postGraphQL<{ deployment: { status: string } | null }>(
      gatewayUrl,
      'query ($id: ID!) { deployment(id: $id) { status } }',
      { id },
      user.headers,
    );
    const status = body.data?.deployment?.status;
    if (status && statuses.includes(status)) return;
    if (Date.now() > deadline) throw new Error(`deployment ${id} still ${status ?? JSON.stringify(body)}`);
    await sleep(100);
  }
}
