/**
 * What every process of the subscription benchmark agrees on: the operation clients send, the
 * deployment and user ids, the clock events are stamped with, and the ports.
 */

/** The operation every subscriber sends; `creator { name }` is what needs the users subgraph. */
export const SUBSCRIPTION = /* GraphQL */ `subscription DeploymentUpdated($id: ID!) {
  deploymentUpdated(id: $id) {
    id
    status
    sequence
    publishedAt
    creator {
      id
      name
    }
  }
}`;

export const OPERATION_NAME = 'DeploymentUpdated';

/** Deployments are spread over a few creators, so the users subgraph answers a handful of keys. */
const USER_COUNT = 10;

export const deploymentId = (index: number): string => `d-${index}`;
export const creatorIdOf = (deploymentIndex: number): string => `u-${deploymentIndex % USER_COUNT}`;
export const userName = (userId: string): string => `User ${userId.slice(2)}`;

/**
 * Milliseconds on CLOCK_MONOTONIC (process.hrtime), which on Linux is one clock for the whole
 * machine: the subgraph stamps an event with it and a client in another process subtracts, with
 * sub-millisecond resolution and no wall-clock steps in between.
 */
export function monotonicMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

export const DEFAULT_SUBGRAPH_PORT_BASE = 4400;

/** deployments = base+1 (owns the subscription), users = base+2. */
export function subgraphUrls(portBase = DEFAULT_SUBGRAPH_PORT_BASE): { deployments: string; users: string } {
  return {
    deployments: `http://127.0.0.1:${portBase + 1}/graphql`,
    users: `http://127.0.0.1:${portBase + 2}/graphql`,
  };
}

/** Answer of the deployments subgraph's GET /__stats. */
export interface DeploymentsStats {
  /** WebSocket connections accepted since the last reset: the gateway's upstream connections. */
  socketsOpened: number;
  socketsOpen: number;
  /** graphql-ws `subscribe` messages received since the last reset. */
  subscribeOperations: number;
  /** Subscriptions running now, and the most at once since the last reset. */
  activeSubscriptions: number;
  peakActiveSubscriptions: number;
  /** Distinct operations (document + variables) the subgraph executes per event. */
  sharedStreams: number;
  /** Events published since the publisher started, and those stamped inside the window. */
  published: number;
  publishedInWindow: number[];
  /** graphql-ws `next` messages sent since the last reset. */
  messagesSent: number;
  httpRequests: number;
}

/** Answer of the users subgraph's GET /__stats. */
export interface UsersStats {
  /** GraphQL requests (entity fetches) since the last reset. */
  requests: number;
}
