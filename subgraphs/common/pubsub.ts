import { setMaxListeners } from 'node:events';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub, type PubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';
import type { PlatformEvent } from './platform-events';

/**
 * Topics every process may publish or hear. Pub/sub is at-most-once: use it to tell, never to
 * carry what must not be lost (that goes through the job queue).
 */
export type Topics = {
  /** A user's memberships or sessions changed: drop whatever access was cached for them. */
  'caller-access-changed': [userId: string];
  /** A deployment's status, steps or production role changed; subscribers read it again. */
  'deployment-updated': [deploymentId: string, change: DeploymentChange];
  /** The same change, addressed to everyone following the project's deployments. */
  'project-deployments-updated': [projectId: string, change: DeploymentChange];
  /** Log lines just written for a deployment, in order (already stored: a subscriber can read back). */
  'deployment-logs': [deploymentId: string, lines: LogLineMessage[]];
  /** A running pipeline must stop: whichever process runs it kills its build. */
  'deployment-canceled': [deploymentId: string];
  /** What an edge host resolves to changed (promotion, rollback, a deployment stopped). */
  'edge-routes-changed': [projectId: string];
  /** An event was recorded in the event log (once, however often it was relayed). */
  'event-published': [organizationId: string, event: PlatformEvent];
  /** An API key was revoked or rotated: gateways drop it from their caches and end its streams. */
  'api-key-changed': [apiKeyId: string];
};

export interface DeploymentChange {
  id: string;
  projectId: string;
  status: string;
}

export interface LogLineMessage {
  seq: number;
  type: 'BUILD' | 'RUNTIME';
  stream: 'STDOUT' | 'STDERR' | 'SYSTEM';
  line: string;
  createdAt: string;
}

export interface EventBus {
  pubsub: PubSub<Topics>;
  /** Throws if the transport is down (readiness). */
  check(): Promise<void>;
  close(): Promise<void>;
}

// Without Redis, every part of one process (the gateway and subgraphs in tests, or one
// subgraph alone) shares one in-memory bus.
let local: EventTarget | undefined;

export function createEventBus(
  redisUrl: string | undefined,
  /** Told when Redis refused a publish or subscription (logged by the caller). */
  onError?: (error: unknown, operation: string) => void,
): EventBus {
  if (!redisUrl) {
    if (!local) {
      local = new EventTarget();
      // Every subscriber of a topic is a listener: many following one deployment is normal.
      setMaxListeners(0, local);
    }
    return {
      pubsub: createPubSub<Topics>({ eventTarget: local as never }),
      check: async () => {},
      close: async () => {},
    };
  }
  const options = { maxRetriesPerRequest: 3, enableAutoPipelining: true };
  const publishClient = new Redis(redisUrl, options);
  // ioredis re-subscribes after a reconnect without catching: a connection lost again before
  // Redis answers would leave an unhandled rejection. We re-subscribe ourselves, guarded.
  const subscribeClient = new Redis(redisUrl, { ...options, autoResubscribe: false });
  // Errors are retried by ioredis; without listeners they would crash the process.
  for (const client of [publishClient, subscribeClient]) client.on('error', () => {});
  const channels = new Set<string>();
  let connectedBefore = false;
  subscribeClient.on('ready', () => {
    if (connectedBefore && channels.size > 0) {
      subscribeClient.subscribe(...channels).catch((error: unknown) => onError?.(error, 'resubscribe'));
    }
    connectedBefore = true;
  });
  // The event target neither awaits nor catches these calls: with Redis unreachable, ioredis
  // rejects after its retries and the unhandled rejection would end the process. Pub/sub is
  // at-most-once by contract, so a lost publish or a late subscribe is logged, not fatal.
  const guarded = (client: Redis, methods: ('publish' | 'subscribe' | 'unsubscribe')[]) => {
    const wrapper = Object.create(client) as Redis;
    // Listeners must land on the client itself, which is what emits its messages.
    Object.defineProperty(wrapper, 'on', { value: client.on.bind(client) });
    for (const method of methods) {
      Object.defineProperty(wrapper, method, {
        value: (...args: unknown[]) => {
          if (client === subscribeClient) {
            for (const channel of args as string[]) {
              if (method === 'subscribe') channels.add(channel);
              else channels.delete(channel);
            }
          }
          return (client[method] as (...a: unknown[]) => Promise<unknown>)
            .apply(client, args)
            .catch((error: unknown) => onError?.(error, method));
        },
      });
    }
    return wrapper;
  };
  return {
    pubsub: createPubSub<Topics>({
      eventTarget: createRedisEventTarget({
        publishClient: guarded(publishClient, ['publish']),
        subscribeClient: guarded(subscribeClient, ['subscribe', 'unsubscribe']),
      }),
    }),
    check: async () => {
      await publishClient.ping();
    },
    close: async () => {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}
