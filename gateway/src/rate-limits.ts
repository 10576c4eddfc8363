import {
  type DocumentNode,
  type ExecutionArgs,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getOperationAST,
  isInterfaceType,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { Caller } from '../../subgraphs/common/caller';
import { graphqlError } from '../../subgraphs/common/errors';
import type { Logger } from '../../subgraphs/common/logger';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../subgraphs/common/pagination';
import type { Quota } from '../../subgraphs/common/quota';
import { connectRateLimitStore } from '../../subgraphs/common/rate-limit-store';
import type { RateLimitConfig } from './config';
import type { GatewayRequestContext } from './datasource';

/**
 * Points one root field of an operation costs. A mutation writes, and often starts work (a
 * build, an email), so it weighs more than a read; a subscription is counted once, when it starts.
 */
export const ROOT_FIELD_POINTS = { query: 1, mutation: 5, subscription: 1 } as const;

/** Page fetches that cost one point more, as GitHub counts its GraphQL API. */
export const FETCHES_PER_POINT = 100;

/**
 * What an operation costs: the points of each root field it selects, and one more point for
 * every 100 page fetches its lists may take (`pageFetches`). Every alias is an operation of its
 * own (`a: projects b: projects` costs two), fields that fragments put on the root count like
 * any other, and introspection (`__schema`, `__type`, `__typename`) is free. Two selections
 * with the same response key are one field (GraphQL merges them).
 */
export function operationPoints(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName?: string | null,
  variables?: Record<string, unknown> | null,
): number {
  const operation = getOperationAST(document, operationName ?? undefined);
  if (!operation) return 0;
  const fragments = fragmentsOf(document);
  const responseKeys = new Set<string>();
  const spread = new Set<string>();
  const collect = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (!selection.name.value.startsWith('__')) {
          responseKeys.add(selection.alias?.value ?? selection.name.value);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        collect(selection.selectionSet);
      } else if (!spread.has(selection.name.value)) {
        spread.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) collect(fragment.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  const root = schema.getRootType(operation.operation);
  const fetches = root ? pageFetches(schema, operation.selectionSet, root, fragments, variables ?? {}) : 0;
  return responseKeys.size * ROOT_FIELD_POINTS[operation.operation] + Math.floor(fetches / FETCHES_PER_POINT);
}

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

/**
 * How many pages the lists of a selection may fetch at most: a field that takes `first` or
 * `last` is one fetch for each item of the lists above it, and its own page size (the default
 * when not given) multiplies the fetches below it. `viewer { memberships(first: 100) { … projects
 * (first: 100) { … deployments(first: 100) } } }` is 1 + 100 + 10,000 fetches: where counting root
 * fields alone would charge one point for up to a million deployments, this charges 102.
 */
export function pageFetches(
  schema: GraphQLSchema,
  selectionSet: SelectionSetNode,
  rootType: GraphQLNamedType,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
): number {
  // Fetches grow linearly with the multiplier, so a named fragment is walked once, at 1, and
  // scaled wherever it is spread: a document spreading fragments into fragments costs a walk
  // as long as the document, not one per path through it.
  const perFragment = new Map<string, number>();
  const walk = (set: SelectionSetNode, parentType: GraphQLNamedType, multiplier: number): number => {
    let fetches = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const field =
          isObjectType(parentType) || isInterfaceType(parentType)
            ? parentType.getFields()[selection.name.value]
            : undefined;
        if (!field || !selection.selectionSet) continue;
        let below = multiplier;
        if (field.args.some((arg) => arg.name === 'first' || arg.name === 'last')) {
          fetches += multiplier;
          below = multiplier * pageSizeOf(selection, variables);
        }
        fetches += walk(selection.selectionSet, getNamedType(field.type), below);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition
          ? schema.getType(selection.typeCondition.name.value)
          : parentType;
        if (type) fetches += walk(selection.selectionSet, type, multiplier);
      } else {
        const name = selection.name.value;
        let once = perFragment.get(name);
        if (once === undefined) {
          // Validation has ruled out fragment cycles by now; the 0 only guards against one.
          perFragment.set(name, 0);
          const fragment = fragments.get(name);
          const type = fragment && schema.getType(fragment.typeCondition.name.value);
          once = fragment && type ? walk(fragment.selectionSet, type, 1) : 0;
          perFragment.set(name, once);
        }
        fetches += once * multiplier;
      }
    }
    return fetches;
  };
  return walk(selectionSet, rootType, 1);
}

/** The page size a field asks for: `first` or `last`, else what the subgraphs default to. */
function pageSizeOf(field: FieldNode, variables: Record<string, unknown>): number {
  for (const argument of field.arguments ?? []) {
    if (argument.name.value !== 'first' && argument.name.value !== 'last') continue;
    const value =
      argument.value.kind === Kind.VARIABLE
        ? variables[argument.value.name.value]
        : argument.value.kind === Kind.INT
          ? Number(argument.value.value)
          : undefined;
    // Out of range, the subgraph refuses the page: the cap only keeps the arithmetic sane.
    if (typeof value === 'number' && Number.isInteger(value))
      return Math.min(Math.max(value, 0), MAX_PAGE_SIZE);
  }
  return DEFAULT_PAGE_SIZE;
}

/** Who is counted, and under which tier. */
export function principalOf(caller: Caller, config: RateLimitConfig): { principal: string; tier: string } {
  switch (caller.kind) {
    case 'anonymous':
      return { principal: `ip:${caller.ip ?? 'unknown'}`, tier: 'anonymous' };
    case 'user':
      return { principal: `user:${caller.userId}`, tier: config.RATE_LIMIT_DEFAULT_TIER };
    case 'apiKey':
      // Until billing gives each organization the tier of its plan, the configuration does.
      return {
        principal: `apiKey:${caller.apiKeyId}`,
        tier: config.RATE_LIMIT_ORGANIZATION_TIERS[caller.organizationId] ?? config.RATE_LIMIT_DEFAULT_TIER,
      };
  }
}

const EXPOSED_HEADERS =
  'RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy, Retry-After';

/** A principal's budget right after this request was counted. */
interface Budget {
  principal: string;
  tier: string;
  limit: number;
  /** Points spent in this window, this request included (may exceed the limit). */
  spent: number;
  /** Until the window ends. */
  msBeforeReset: number;
  /** Whether this request may run. */
  allowed: boolean;
}

export interface RateLimiter {
  /** The Yoga plugin: counts each operation before it runs and refuses those over the budget. */
  plugin: Plugin;
  close(): Promise<void>;
}

/**
 * Per-principal rate limits on GraphQL operations, by plan tier: a user, an API key, or an
 * anonymous client address each has a budget of points per fixed window, and each operation
 * spends the points of its root fields (`operationPoints`) once it is parsed, validated and its
 * caller known, before it runs. Over the budget, it does not run: 429 with Retry-After and a
 * RATE_LIMITED error (on a WebSocket, that error for that one operation; the socket stays).
 * Every counted response says where the budget stands (`RateLimit-*` headers), and subgraphs
 * get the same figures with each fetch (the `x-construct-quota` header, `viewerQuota`).
 *
 * Counts live in Redis when REDIS_URL is set, so every gateway replica spends from one budget.
 * If Redis fails, each replica counts in its own memory until it is back (the library's
 * insurance limiter): limits loosen by the number of replicas for a while, but the API stays up
 * and nobody is locked out by an outage that is not theirs.
 */
export async function createRateLimiter(
  config: RateLimitConfig,
  redisUrl: string | undefined,
  logger: Logger,
): Promise<RateLimiter> {
  // One counter per principal whatever its tier: the limit is applied here, not by the library,
  // so a tier change applies to the points already spent in the window.
  const options = {
    points: Number.MAX_SAFE_INTEGER,
    duration: config.RATE_LIMIT_WINDOW_SECONDS,
    keyPrefix: config.GATEWAY_RATE_LIMIT_KEY_PREFIX,
  };
  let redis: Redis | undefined;
  let store: RateLimiterAbstract = new RateLimiterMemory(options);
  if (redisUrl) {
    redis = await connectRateLimitStore(redisUrl, logger);
    store = new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: store });
  }

  const spend = async (caller: Caller, points: number): Promise<Budget> => {
    const { principal, tier } = principalOf(caller, config);
    const limit = config.RATE_LIMIT_TIERS[tier]!;
    // A free operation (introspection) reads the budget without starting a window.
    const counted = points > 0 ? await store.penalty(principal, points) : await store.get(principal);
    const spent = counted?.consumedPoints ?? 0;
    return {
      principal,
      tier,
      limit,
      spent,
      msBeforeReset: Math.max(0, counted?.msBeforeNext ?? config.RATE_LIMIT_WINDOW_SECONDS * 1000),
      allowed: points === 0 || spent <= limit,
    };
  };

  /** The budget after a request, as the headers say it and subgraphs receive it. */
  const quotaOf = (budget: Budget): Quota => ({
    principal: budget.principal,
    tier: budget.tier,
    limit: budget.limit,
    remaining: Math.max(0, budget.limit - budget.spent),
    windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS,
    resetAt: new Date(Date.now() + budget.msBeforeReset).toISOString(),
  });

  const counted = new WeakMap<Request, Budget>();

  /** Counts the operation; undefined when it may run, else the result that answers it instead. */
  const check = async (
    args: ExecutionArgs,
    extendContext: (extension: Partial<GatewayRequestContext>) => void,
  ) => {
    const context = args.contextValue as GatewayRequestContext & { request?: Request };
    let budget: Budget;
    try {
      const points = operationPoints(args.schema, args.document, args.operationName, args.variableValues);
      budget = await spend(context.caller, points);
    } catch (error) {
      // Both stores failed (a bug, not an outage): serving unmetered beats refusing everyone.
      logger.warn({ err: error }, 'rate limit not checked: letting the request through');
      return undefined;
    }
    // Yoga puts the HTTP request in the context; a WebSocket operation has none and no headers.
    if (context.request) counted.set(context.request, budget);
    if (budget.allowed) {
      extendContext({ quota: quotaOf(budget) });
      return undefined;
    }
    return { errors: [rateLimited(budget, config.RATE_LIMIT_WINDOW_SECONDS, context.request !== undefined)] };
  };

  const plugin: Plugin = {
    async onExecute({ args, extendContext, setResultAndStopExecution }) {
      const refused = await check(args, (quota) => extendContext(quota as never));
      if (refused) setResultAndStopExecution(refused);
    },
    async onSubscribe({ args, extendContext, setResultAndStopExecution }) {
      const refused = await check(args, (quota) => extendContext(quota as never));
      if (refused) setResultAndStopExecution(refused);
    },
    onResponse({ request, response }) {
      const budget = counted.get(request);
      if (!budget) return;
      const quota = quotaOf(budget);
      // IETF draft-ietf-httpapi-ratelimit-headers: the budget, what is left, and seconds to reset.
      response.headers.set('RateLimit-Limit', String(quota.limit));
      response.headers.set('RateLimit-Remaining', String(quota.remaining));
      response.headers.set('RateLimit-Reset', String(Math.ceil(budget.msBeforeReset / 1000)));
      response.headers.set('RateLimit-Policy', `${quota.limit};w=${config.RATE_LIMIT_WINDOW_SECONDS}`);
      // A browser app on another origin may read only the headers it is told it may.
      if (request.headers.has('origin')) {
        response.headers.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      }
    },
  };

  return {
    plugin,
    async close() {
      await redis?.quit().catch(() => {});
    },
  };
}

function rateLimited(budget: Budget, windowSeconds: number, overHttp: boolean) {
  const retryAfterSeconds = Math.max(1, Math.ceil(budget.msBeforeReset / 1000));
  const retryAt = new Date(Date.now() + retryAfterSeconds * 1000).toISOString();
  const seconds = `${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}`;
  return graphqlError(
    'RATE_LIMITED',
    `Rate limit reached: the ${budget.tier} tier allows ${budget.limit} points every ${windowSeconds} seconds. Retry in ${seconds} (at ${retryAt}).`,
    {
      retryAfterSeconds,
      retryAt,
      // Yoga turns this into the response's status and headers (and leaves it out of the body);
      // on a socket it would only be noise.
      ...(overHttp ? { http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } } } : {}),
    },
  );
}
