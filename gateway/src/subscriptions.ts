import type { Schema } from '@apollo/federation-internals';
import { executeQueryPlan, type ServiceMap } from '@apollo/gateway';
import type { OperationContext } from '@apollo/gateway/dist/operationContext';
import type { FetchNode, QueryPlan, SubscriptionNode } from '@apollo/query-planner';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { type DocumentNode, type ExecutionResult, GraphQLError, type GraphQLSchema } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { Repeater, SlidingBuffer } from 'graphql-yoga';
import WebSocket from 'ws';
import type { Caller } from '../../subgraphs/common/caller';
import { CREDENTIAL_HEADER, type CredentialMinter } from '../../subgraphs/common/credential';
import { type ErrorCode, graphqlError } from '../../subgraphs/common/errors';
import type { Logger } from '../../subgraphs/common/logger';
import type { GatewayRequestContext, SubgraphDataSource } from './datasource';

/** The stand-in service whose "fetch" hands the executor the event the primary stream sent. */
const EVENT_SERVICE = '__subscription_event__';
/** Events of a shared stream kept to replay to a late joiner; past it, late joiners get their own stream. */
const HISTORY_LIMIT = 500;
/** Events kept for a subscriber that has not taken them yet. */
const SUBSCRIBER_BUFFER = 1_000;
/** How often an upstream connection pings its subgraph (and notices one that went silent). */
const UPSTREAM_KEEPALIVE_MS = 10_000;

export interface SubscriptionRequest {
  /** Identifies the operation and its variables: identical keys of one viewer share a stream. */
  operationKey: string;
  plan: QueryPlan & { node: SubscriptionNode };
  operationContext: OperationContext;
  document: DocumentNode;
  variables: Record<string, unknown>;
  operationName: string | undefined;
  context: GatewayRequestContext;
}

interface Subscriber {
  push(result: ExecutionResult): Promise<unknown>;
  stop(): void;
}

/** One upstream stream and everyone following it. */
interface Group {
  key: string;
  request: SubscriptionRequest;
  subscribers: Set<Subscriber>;
  upstream: Client;
  /** Events are completed one after the other, in the order the subgraph sent them. */
  queue: Promise<void>;
  ended: boolean;
  /**
   * What the stream has delivered so far, for subscribers who join it late: the subgraph sent
   * its opening events (the current state, the log so far) only when the stream opened.
   */
  history: ExecutionResult[];
  /** Set once history outgrew its bound: a late joiner then gets a stream of its own instead. */
  historyTruncated: boolean;
}

export interface SubscriptionHubOptions {
  logger: Logger;
  credentials: CredentialMinter;
  supergraphSchema: GraphQLSchema;
  apiSchema: Schema;
  serviceMap: ServiceMap;
  dataSources: SubgraphDataSource[];
}

/** An error result that ends a subscription: the client knows why, and that it may subscribe again. */
function ending(message: string, code: ErrorCode, extra: Record<string, unknown> = {}): ExecutionResult {
  return { errors: [graphqlError(code, message, extra)] };
}

/** The slice of Apollo Server's request context that Apollo's executor reads. */
export function executorContext(
  document: DocumentNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
  context: GatewayRequestContext,
  logger: Logger,
): GatewayGraphQLRequestContext {
  return {
    request: { query: undefined, operationName, variables },
    document,
    operationName: operationName ?? null,
    context,
    logger,
    metrics: {},
    cache: undefined,
    overallCachePolicy: undefined,
  } as unknown as GatewayGraphQLRequestContext;
}

/** Who a stream is shared by: one session's (or one API key's) subscriptions, never another viewer's. */
function scopeOf(caller: Caller): string {
  if (caller.kind === 'user') return `${caller.userId}:${caller.sessionId}`;
  if (caller.kind === 'apiKey') return `apiKey:${caller.apiKeyId}`;
  return 'anonymous';
}

/**
 * Runs federated subscriptions, which @apollo/gateway plans but will not execute: the
 * planner's `SubscriptionNode` is a `primary` fetch to the subgraph that owns the field and
 * the `rest` of the plan (entity fetches to other subgraphs). The hub subscribes to `primary`
 * over graphql-ws, carrying the caller's credential like any fetch, and for each event runs a
 * plan made of that event followed by `rest`, with Apollo's own executor; so a subscriber
 * selects fields of every subgraph. Identical subscriptions of one session (same operation,
 * variables and viewer) share one upstream stream and one execution per event.
 */
export class SubscriptionHub {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly options: SubscriptionHubOptions) {}

  /** Upstream streams open now (for tests and metrics). */
  get upstreamCount(): number {
    return this.groups.size;
  }

  subscribe(request: SubscriptionRequest): AsyncIterableIterator<ExecutionResult> {
    const key = `${request.operationKey}\u0000${JSON.stringify(request.variables)}\u0000${scopeOf(request.context.caller)}`;
    return new Repeater<ExecutionResult>(async (push, stop) => {
      const subscriber: Subscriber = { push, stop: () => stop() };
      let group = this.groups.get(key);
      if (group && !group.ended && !group.historyTruncated) {
        for (const past of group.history) void push(past);
      } else if (group && !group.ended) {
        // Too much has happened on the shared stream to replay it: this one opens its own.
        group = this.open(`${key}\u0000${crypto.randomUUID()}`, request);
        this.groups.set(group.key, group);
      } else {
        group = this.open(key, request);
        this.groups.set(key, group);
      }
      group.subscribers.add(subscriber);
      await stop;
      group.subscribers.delete(subscriber);
      if (group.subscribers.size === 0) this.close(group);
      // A subscriber that falls this far behind (a stalled socket) loses its oldest events
      // rather than holding up everyone who shares its stream.
    }, new SlidingBuffer(SUBSCRIBER_BUFFER));
  }

  /**
   * The access of some callers changed (a role, a membership, a session, an API key): their
   * streams start over with the caller as it is now, so the owning subgraph authorizes them
   * afresh; a stream the caller may no longer see ends with the subgraph's error, and one whose
   * session ended or whose key is no longer valid ends with UNAUTHENTICATED.
   */
  async refresh(
    affected: (caller: Caller) => boolean,
    callerOf: (caller: Caller) => Promise<Caller | null>,
  ): Promise<void> {
    for (const group of [...this.groups.values()]) {
      const caller = group.request.context.caller;
      if (group.ended || !affected(caller)) continue;
      const fresh = await callerOf(caller);
      if (!fresh) {
        const message =
          caller.kind === 'apiKey' ? 'The API key is not valid.' : 'Your session has ended; sign in again.';
        this.end(group, ending(message, 'UNAUTHENTICATED'));
        continue;
      }
      group.upstream.dispose();
      group.request = { ...group.request, context: { ...group.request.context, caller: fresh } };
      group.upstream = this.connect(group);
    }
  }

  /** Ends every stream with a reason clients can act on (a schema reload, a shutdown). */
  endAll(message: string, code: ErrorCode): void {
    for (const group of [...this.groups.values()]) this.end(group, ending(message, code));
  }

  private open(key: string, request: SubscriptionRequest): Group {
    const group: Group = {
      key,
      request,
      subscribers: new Set(),
      upstream: undefined as unknown as Client,
      queue: Promise.resolve(),
      ended: false,
      history: [],
      historyTruncated: false,
    };
    group.upstream = this.connect(group);
    return group;
  }

  private connect(group: Group): Client {
    const { primary } = group.request.plan.node;
    const source = this.options.dataSources.find((s) => s.name === primary.serviceName);
    const caller = group.request.context.caller;
    const credentials = this.options.credentials;
    const url = (source?.url ?? '').replace(/^http/, 'ws');
    const requestId = group.request.context.requestId;
    // Set once the credential is minted, before the (lazy) client connects.
    let pendingHeaders: Record<string, string> = {};
    const upstream = createClient({
      url,
      lazy: true,
      retryAttempts: 0,
      keepAlive: UPSTREAM_KEEPALIVE_MS,
      webSocketImpl: class extends WebSocket {
        constructor(address: string, protocols?: string | string[]) {
          // The credential rides on the upgrade request, minted for this caller and subgraph.
          super(address, protocols, { headers: pendingHeaders });
        }
      },
    });
    const variables = Object.fromEntries(
      (primary.variableUsages ?? []).map((name) => [name, group.request.variables[name]]),
    );
    void credentials.mint(caller, primary.serviceName).then(
      (credential) => {
        if (group.ended || group.upstream !== upstream) return;
        pendingHeaders = { [CREDENTIAL_HEADER]: credential, 'x-request-id': requestId };
        upstream.subscribe<Record<string, unknown>>(
          { query: primary.operation, variables, operationName: primary.operationName },
          {
            next: (event) => {
              if (group.upstream !== upstream) return;
              group.queue = group.queue.then(() => this.deliver(group, event as ExecutionResult));
            },
            error: (error) => {
              if (group.upstream !== upstream) return;
              void group.queue.then(() => this.end(group, this.upstreamFailure(primary, error)));
            },
            complete: () => {
              if (group.upstream !== upstream) return;
              void group.queue.then(() => this.end(group));
            },
          },
        );
      },
      (error) => {
        this.options.logger.error({ err: error }, 'could not mint a subscription credential');
        this.end(group, ending('The subscription could not be started.', 'INTERNAL_SERVER_ERROR'));
      },
    );
    return upstream;
  }

  /** What a subscriber sees when the owning subgraph refuses or drops the stream. */
  private upstreamFailure(primary: FetchNode, error: unknown): ExecutionResult {
    // The subgraph refused the operation (NOT_FOUND, UNAUTHENTICATED…): its errors are already
    // masked and written for the client.
    if (Array.isArray(error)) {
      return {
        errors: error.map(
          (e: { message: string; extensions?: Record<string, unknown> }) =>
            new GraphQLError(e.message, { extensions: { ...(e.extensions ?? {}) } }),
        ),
      };
    }
    this.options.logger.warn({ service: primary.serviceName, err: error }, 'an upstream subscription failed');
    return ending(
      `The ${primary.serviceName} service ended this subscription; subscribe again.`,
      'DOWNSTREAM_SERVICE_ERROR',
      { serviceName: primary.serviceName },
    );
  }

  /** Completes one event with the rest of the plan, once, and hands the result to every subscriber. */
  private async deliver(group: Group, event: ExecutionResult): Promise<void> {
    if (group.ended) return;
    const { plan, operationContext, document, variables, operationName, context } = group.request;
    const { primary, rest } = plan.node;
    const eventFetch: FetchNode = { ...primary, serviceName: EVENT_SERVICE };
    const perEvent: QueryPlan = {
      kind: 'QueryPlan',
      node: rest ? { kind: 'Sequence', nodes: [eventFetch, rest] } : eventFetch,
    };
    const serviceMap: ServiceMap = {
      ...this.options.serviceMap,
      [EVENT_SERVICE]: { process: async () => event as never },
    };
    const requestContext = executorContext(document, operationName, variables, context, this.options.logger);
    let result: ExecutionResult;
    try {
      result = (await executeQueryPlan(
        perEvent,
        serviceMap,
        requestContext,
        operationContext,
        this.options.supergraphSchema,
        this.options.apiSchema,
      )) as ExecutionResult;
    } catch (error) {
      this.options.logger.error({ err: error }, 'a subscription event could not be completed');
      result = ending('This event could not be completed.', 'INTERNAL_SERVER_ERROR');
    }
    // The executor names the stand-in service in downstream errors: name the real one.
    for (const error of result.errors ?? []) {
      if (error.extensions?.serviceName === EVENT_SERVICE) {
        (error.extensions as Record<string, unknown>).serviceName = primary.serviceName;
      }
    }
    if (group.history.length < HISTORY_LIMIT) group.history.push(result);
    else if (!group.historyTruncated) {
      group.historyTruncated = true;
      group.history = [];
    }
    // An event's errors belong to that event: the stream goes on.
    for (const subscriber of group.subscribers) void subscriber.push(result);
  }

  private end(group: Group, last?: ExecutionResult): void {
    if (group.ended) return;
    group.ended = true;
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
    group.upstream.dispose();
    for (const subscriber of group.subscribers) {
      if (last) void subscriber.push(last);
      subscriber.stop();
    }
  }

  private close(group: Group): void {
    if (group.ended) return;
    group.ended = true;
    if (this.groups.get(group.key) === group) this.groups.delete(group.key);
    group.upstream.dispose();
  }
}
