import type {
  GraphQLDataSource,
  GraphQLDataSourceProcessOptions,
} from '@apollo/gateway/dist/datasources/types';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { Pool } from 'undici';
import type { Caller } from '../../subgraphs/common/caller';
import {
  CREDENTIAL_HEADER,
  type CredentialMinter,
  QUOTA_HEADER,
  USER_AGENT_HEADER,
} from '../../subgraphs/common/credential';
import type { ErrorCode } from '../../subgraphs/common/errors';
import type { Logger } from '../../subgraphs/common/logger';
import type { Quota } from '../../subgraphs/common/quota';
import type { AccessChange } from './access-change';

interface Exchange {
  status: number;
  contentType: string;
  text: string;
}

/** Mutations run once per request, always; only reads may be shared. */
const READ_ONLY = /^\s*(?:query\b|\{)/;

export interface GatewayRequestContext {
  requestId: string;
  caller: Caller;
  /** The client's User-Agent, passed on for what subgraphs record (a session's device). */
  userAgent?: string;
  /** The caller's rate-limit budget after this request (absent when limits are off). */
  quota?: Quota;
}

/**
 * Fetches from one subgraph over a keep-alive connection pool (undici), with a whole-request
 * timeout. Whatever goes wrong (refused, reset, timeout, a non-GraphQL answer) becomes a
 * GraphQL error that names the subgraph and never its address, so the query planner puts it
 * on the fields of that subgraph and the rest of the response survives. Nothing is retried:
 * a mutation must never run twice.
 */
export class SubgraphDataSource implements GraphQLDataSource<GatewayRequestContext> {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly inFlight = new Map<string, Promise<Exchange>>();

  constructor(
    readonly name: string,
    readonly url: string,
    private readonly options: {
      timeoutMs: number;
      logger: Logger;
      credentials: CredentialMinter;
      /** A subgraph reported users whose roles or sessions, or API keys, its answer changed. */
      onAccessChanged?: (change: AccessChange) => void;
    },
  ) {
    const parsed = new URL(url);
    this.path = `${parsed.pathname}${parsed.search}`;
    this.pool = new Pool(parsed.origin, {
      keepAliveTimeout: 30_000,
      connections: 256,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** A fetch of the query plan (Apollo's executor calls this). */
  process(options: GraphQLDataSourceProcessOptions<GatewayRequestContext>): Promise<GatewayGraphQLResponse> {
    // Apollo types the context loosely; the gateway always gives its own.
    return this.fetch(options.request, options.context as GatewayRequestContext);
  }

  /** One request to the subgraph: a plan's fetch, or one of the gateway's own lookups (a caller's access). */
  async fetch(
    request: GraphQLDataSourceProcessOptions<GatewayRequestContext>['request'],
    context: GatewayRequestContext,
  ): Promise<GatewayGraphQLResponse> {
    const { query, variables, operationName } = request;
    const requestId = context?.requestId;
    try {
      // Every fetch carries the caller, signed for this subgraph only.
      const credential = await this.options.credentials.mint(context.caller, this.name);
      const body = JSON.stringify({ query, variables, operationName });
      const headers = this.headersOf(credential, requestId, context);
      // A read shared with an identical one in flight carries that one's budget (a point or so apart).
      const exchange = READ_ONLY.test(query ?? '')
        ? this.shared(`${credential}\n${body}`, () => this.send(body, headers))
        : this.send(body, headers);
      const { status, contentType, text } = await exchange;
      if (!contentType.includes('json')) {
        return this.failure(`answered HTTP ${status} without a GraphQL response`, requestId);
      }
      // Parsed per consumer: the query planner merges into what it gets, so no two requests
      // may hold the same objects.
      const result = JSON.parse(text) as GatewayGraphQLResponse;
      const users = result.extensions?.callerAccessChanged;
      const apiKeys = result.extensions?.apiKeysChanged;
      if (Array.isArray(users) || Array.isArray(apiKeys)) {
        this.options.onAccessChanged?.({
          userIds: Array.isArray(users) ? (users as string[]) : [],
          apiKeyIds: Array.isArray(apiKeys) ? (apiKeys as string[]) : [],
        });
      }
      if (result.data === undefined && !result.errors) {
        return this.failure(`answered HTTP ${status} without data or errors`, requestId);
      }
      return result;
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : 'is unreachable';
      this.options.logger.warn({ err: error, subgraph: this.name, requestId }, `subgraph ${reason}`);
      return this.failure(reason, requestId, false);
    }
  }

  /**
   * Identical reads in flight at once, for the same caller (the credential names it), share one
   * subgraph request: a burst of the same query costs the subgraph one fetch, not one per client.
   */
  private shared(key: string, send: () => Promise<Exchange>): Promise<Exchange> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const exchange = send().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, exchange);
    return exchange;
  }

  private headersOf(
    credential: string,
    requestId: string | undefined,
    context: GatewayRequestContext,
  ): Record<string, string> {
    return {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(requestId ? { 'x-request-id': requestId } : {}),
      [CREDENTIAL_HEADER]: credential,
      ...(context.userAgent ? { [USER_AGENT_HEADER]: context.userAgent } : {}),
      ...(context.quota ? { [QUOTA_HEADER]: JSON.stringify(context.quota) } : {}),
    };
  }

  private async send(body: string, headers: Record<string, string>): Promise<Exchange> {
    const response = await this.pool.request({
      path: this.path,
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    return {
      status: response.statusCode,
      contentType: String(response.headers['content-type'] ?? ''),
      text: await response.body.text(),
    };
  }

  private failure(reason: string, requestId: string | undefined, log = true): GatewayGraphQLResponse {
    if (log) this.options.logger.warn({ subgraph: this.name, requestId }, `subgraph ${reason}`);
    return {
      errors: [
        {
          message: `The ${this.name} service ${reason.startsWith('answered') ? 'failed' : reason}; its fields are missing.`,
          extensions: { code: 'DOWNSTREAM_SERVICE_ERROR' satisfies ErrorCode },
        } as never,
      ],
    };
  }

  /** GET <origin>/health/ready of the subgraph: the gateway is ready when every subgraph is. */
  async checkReady(): Promise<void> {
    const response = await this.pool.request({
      path: '/health/ready',
      method: 'GET',
      signal: AbortSignal.timeout(2_000),
    });
    await response.body.dump();
    if (response.statusCode !== 200)
      throw new Error(`${this.name} is not ready (HTTP ${response.statusCode})`);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
