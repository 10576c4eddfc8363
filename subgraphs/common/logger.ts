import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';

export type Logger = pino.Logger;

/**
 * The request being served, so every log line written while serving it carries its id, and
 * what it changed can be reported with its response (see the subgraph kit's `server.ts`).
 */
export interface RequestScope {
  requestId: string;
  /** Users whose roles or sessions this request changed (published `caller-access-changed`). */
  accessChanged?: Set<string>;
  /** API keys this request revoked or rotated (published `api-key-changed`). */
  apiKeysChanged?: Set<string>;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

/** JSON logs on stdout, one line per event; credentials in headers never reach them. */
export function createLogger(name: string, level: string): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    mixin: () => {
      const scope = requestScope.getStore();
      return scope ? { requestId: scope.requestId } : {};
    },
    redact: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'],
  });
}
