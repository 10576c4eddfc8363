import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';

export type Logger = pino.Logger;

/** The request being served, so every log line written while serving it carries its id. */
export const requestScope = new AsyncLocalStorage<{ requestId: string }>();

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
