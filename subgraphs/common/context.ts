import type { Caller } from './caller';
import type { Logger } from './logger';
import type { EventBus } from './pubsub';
import type { Quota } from './quota';

/** What every subgraph's GraphQL context carries; each subgraph adds its own storage and loaders. */
export interface BaseContext {
  /** Taken from `x-request-id` (set by the gateway) or made here, and logged with every line. */
  requestId: string;
  /** A child logger bound to the request id. */
  logger: Logger;
  /** Who is calling, as the gateway vouched for it. */
  caller: Caller;
  /** The client's User-Agent, as the gateway forwarded it. */
  userAgent: string | undefined;
  /**
   * Pub/sub shared with the other processes (Redis when configured). Publishing
   * `caller-access-changed` here also reports the user in this response (see `accessChanged`).
   */
  events: EventBus;
  /** Users whose roles or sessions this request changed, reported to the gateway with the response. */
  accessChanged: Set<string>;
  /** API keys this request revoked or rotated (publishing `api-key-changed` notes them), reported likewise. */
  apiKeysChanged: Set<string>;
  /** The caller's request budget as the gateway counted it for this request (absent outside the gateway). */
  quota: Quota | undefined;
}
