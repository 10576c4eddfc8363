import type { IncomingMessage } from 'node:http';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createGraphQLError, createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import type { ErrorCode } from './error-codes';
import type { Logger } from './logger';

export interface YogaOptions<TContext extends object> {
  schema: GraphQLSchema;
  logger: Logger;
  registry: Registry;
  context: (request: Request, req: IncomingMessage | undefined) => TContext | Promise<TContext>;
  graphiql: boolean | { title?: string; shouldPersistHeaders?: boolean };
  plugins?: Plugin[];
}

/**
 * Errors thrown on purpose (a GraphQLError with a code) reach the client; anything else (a bug,
 * a database error) is logged with its stack and replaced by INTERNAL_SERVER_ERROR, so no
 * stack, SQL or address leaves the process, in development too.
 */
export function maskError(logger: Logger) {
  return (error: unknown): Error => {
    if (error instanceof GraphQLError) {
      // No original error: a request error (syntax, validation, variables). A GraphQLError as
      // the original: thrown on purpose by a resolver or a plugin. A plain object: an error a
      // subgraph sent the gateway, already masked there.
      const original = error.originalError;
      if (!original || original instanceof GraphQLError || !(original instanceof Error)) return error;
      logger.error({ err: original, path: error.path }, 'unexpected error in resolver');
      return createGraphQLError('Internal server error.', {
        nodes: error.nodes,
        path: error.path,
        extensions: { code: 'INTERNAL_SERVER_ERROR' satisfies ErrorCode },
      });
    }
    logger.error({ err: error }, 'unexpected error');
    return createGraphQLError('Internal server error.', {
      extensions: { code: 'INTERNAL_SERVER_ERROR' satisfies ErrorCode },
    });
  };
}

export function createGraphQLHandler<TContext extends object>(
  options: YogaOptions<TContext>,
): YogaServerInstance<{ req?: IncomingMessage }, TContext> {
  const log = options.logger;
  return createYoga<{ req?: IncomingMessage }, TContext>({
    schema: options.schema,
    graphqlEndpoint: '/graphql',
    // The kit serves /health itself, with readiness; Yoga's own endpoint would shadow it.
    healthCheckEndpoint: '/yoga-health',
    landingPage: false,
    graphiql: options.graphiql,
    context: ({ request, req }) => options.context(request, req),
    maskedErrors: { maskError: maskError(log), isDev: false },
    logging: {
      debug: (...args) => log.debug(args),
      info: (...args) => log.info(args),
      warn: (...args) => log.warn(args),
      error: (...args) => log.error(args),
    },
    plugins: [
      // No `url` label: a GET's URL carries the query and its variables (unbounded series, and
      // whatever the variables hold would end up in the metrics).
      usePrometheus({ registry: options.registry, endpoint: false, labels: { url: false } }),
      ...(options.plugins ?? []),
    ],
  });
}
