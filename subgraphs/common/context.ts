import type { Logger } from './logger';

/** What every subgraph's GraphQL context carries; each subgraph adds its own storage and loaders. */
export interface BaseContext {
  /** Taken from `x-request-id` (set by the gateway) or made here, and logged with every line. */
  requestId: string;
  /** A child logger bound to the request id. */
  logger: Logger;
}
