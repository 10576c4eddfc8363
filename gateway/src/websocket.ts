import type { IncomingMessage, Server } from 'node:http';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Caller } from '../../subgraphs/common/caller';
import { graphqlError } from '../../subgraphs/common/errors';
import { requestIdOf } from '../../subgraphs/common/http-server';
import type { Logger } from '../../subgraphs/common/logger';
import type { Authenticator } from './auth';
import type { GatewayRequestContext } from './datasource';

export interface WebSocketOptions {
  server: Server;
  yoga: YogaServerInstance<{ req?: IncomingMessage }, GatewayRequestContext>;
  authenticator: Authenticator;
  logger: Logger;
  /** Subscriptions one connection may hold at once: a flood of subscribe messages is refused past it. */
  maxSubscriptionsPerConnection: number;
  /** Largest message a client may send. */
  maxPayloadBytes: number;
  /** Ping period; a client that misses a pong in that time is disconnected. */
  keepAliveMs: number;
}

interface Connection {
  socket: WebSocket;
  caller: Caller;
  requestId: string;
  userAgent: string | undefined;
  alive: boolean;
}

type Extra = { connection?: Connection };

/**
 * graphql-ws (`graphql-transport-ws`) on the gateway's /graphql, through the same Yoga plugins
 * as HTTP (limits, masking, logging) and the same authentication: the access token comes in
 * `connection_init`'s `authorization` (or the upgrade request's header). The protocol's own
 * close codes answer a second init (4429), a reused id (4409), a subscribe before the ack
 * (4401) and a silent client (4408); a bad token or API key closes with 4403.
 */
export function serveWebSockets(options: WebSocketOptions) {
  const { yoga, authenticator, logger } = options;
  const wss = new WebSocketServer({
    server: options.server,
    path: '/graphql',
    maxPayload: options.maxPayloadBytes,
  });
  const connections = new Set<Connection>();

  type RootValue = {
    execute: ReturnType<typeof yoga.getEnveloped>['execute'];
    subscribe: ReturnType<typeof yoga.getEnveloped>['subscribe'];
  };

  useServer<Record<string, unknown> | undefined, Extra>(
    {
      onConnect: async (ctx) => {
        const request = ctx.extra.request;
        const given = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const authorization = typeof given === 'string' ? given : request.headers.authorization;
        const requestId = requestIdOf(request);
        // The proxy's report of the client address too: anonymous callers are counted by it.
        const forwardedFor = request.headers['x-forwarded-for'];
        const headers = new Headers();
        if (authorization) headers.set('authorization', authorization);
        if (typeof forwardedFor === 'string') headers.set('x-forwarded-for', forwardedFor);
        try {
          const caller = await authenticator.authenticate(
            new Request('http://gateway/graphql', { headers }),
            request,
            requestId,
          );
          const connection: Connection = {
            socket: ctx.extra.socket,
            caller,
            requestId,
            userAgent: request.headers['user-agent']?.slice(0, 512),
            alive: true,
          };
          ctx.extra.connection = connection;
          connections.add(connection);
          ctx.extra.socket.once('close', () => connections.delete(connection));
          ctx.extra.socket.on('pong', () => {
            connection.alive = true;
          });
          return true;
        } catch {
          // Closes with 4403 Forbidden: the token or key is invalid, expired or its session ended.
          return false;
        }
      },
      onSubscribe: (ctx, id, params) => {
        const connection = ctx.extra.connection!;
        // graphql-ws's own record: an id leaves it as soon as the client completes it.
        // It holds the id being subscribed already, hence `>`.
        if (Object.keys(ctx.subscriptions).length > options.maxSubscriptionsPerConnection) {
          return [
            graphqlError(
              'RATE_LIMITED',
              `A connection holds at most ${options.maxSubscriptionsPerConnection} subscriptions; complete some first.`,
            ),
          ];
        }
        const enveloped = yoga.getEnveloped({ req: ctx.extra.request, params });
        let document: ReturnType<typeof enveloped.parse>;
        try {
          document = enveloped.parse(params.query);
        } catch (error) {
          return [error instanceof GraphQLError ? error : new GraphQLError('The query could not be parsed.')];
        }
        let errors: readonly GraphQLError[];
        try {
          errors = enveloped.validate(enveloped.schema, document);
        } catch (error) {
          // graphql-armor's limits throw rather than report: an error for this operation, not
          // a closed socket for every other subscription on it.
          errors = [error instanceof GraphQLError ? error : new GraphQLError('The query is not valid.')];
        }
        // The HTTP status hint means nothing on a socket.
        if (errors.length > 0) return errors.map(withoutHttpHint);
        return {
          schema: enveloped.schema,
          document,
          operationName: params.operationName,
          variableValues: params.variables,
          contextValue: {
            requestId: `${connection.requestId}:${id}`,
            caller: connection.caller,
            userAgent: connection.userAgent,
          } satisfies GatewayRequestContext,
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe } satisfies RootValue,
        };
      },
      execute: (args) => (args.rootValue as RootValue).execute(args as ExecutionArgs),
      subscribe: (args) => (args.rootValue as RootValue).subscribe(args as ExecutionArgs),
    },
    wss,
  );

  // Pings find the clients that went away without closing (a laptop lid, a dead NAT entry).
  const pinger = setInterval(() => {
    for (const connection of connections) {
      if (!connection.alive) {
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.socket.ping();
    }
  }, options.keepAliveMs);
  pinger.unref();

  return {
    /** Open client connections (for tests and metrics). */
    get connectionCount() {
      return connections.size;
    },
    /**
     * Re-checks the sockets of callers whose access changed: a socket whose session ended or
     * whose API key is no longer valid is closed (4403); the others carry the caller as it is
     * now into later subscriptions.
     */
    async accessChanged(affected: (caller: Caller) => boolean): Promise<void> {
      for (const connection of connections) {
        const caller = connection.caller;
        if (!affected(caller)) continue;
        try {
          const fresh = await authenticator.currentCaller(caller, connection.requestId);
          if (fresh) connection.caller = fresh;
          else
            connection.socket.close(
              CloseCode.Forbidden,
              caller.kind === 'apiKey'
                ? 'Forbidden: the API key is no longer valid'
                : 'Forbidden: the session has ended',
            );
        } catch (error) {
          logger.warn({ err: error }, 'could not re-check a subscriber’s access');
        }
      }
    },
    /** Closes every connection (a shutdown): clients reconnect to another instance. */
    drain(): void {
      for (const connection of connections) connection.socket.close(1001, 'Server shutting down');
    },
    close(): Promise<void> {
      clearInterval(pinger);
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

function withoutHttpHint(error: GraphQLError): GraphQLError {
  if (!error.extensions?.http) return error;
  const { http: _, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { nodes: error.nodes, extensions });
}
