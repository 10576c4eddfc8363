import { setMaxListeners } from 'node:events';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub, type PubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';

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

export function createEventBus(redisUrl: string | undefined): EventBus {
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
  const subscribeClient = new Redis(redisUrl, options);
  // Errors are retried by ioredis; without listeners they would crash the process.
  for (const client of [publishClient, subscribeClient]) client.on('error', () => {});
  return {
    pubsub: createPubSub<Topics>({ eventTarget: createRedisEventTarget({ publishClient, subscribeClient }) }),
    check: async () => {
      await publishClient.ping();
    },
    close: async () => {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}
