import { operationFromDocument, type Schema, Supergraph } from '@apollo/federation-internals';
import { buildOperationContext, executeQueryPlan, type ServiceMap } from '@apollo/gateway';
import type { OperationContext } from '@apollo/gateway/dist/operationContext';
import { type QueryPlan, QueryPlanner } from '@apollo/query-planner';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  getVariableValues,
  print,
} from 'graphql';

import type { CredentialMinter } from '../../subgraphs/common/credential';
import { type ErrorCode, graphqlError } from '../../subgraphs/common/errors';
import type { Logger } from '../../subgraphs/common/logger';
import type { AccessChange } from './access-change';
import { type GatewayRequestContext, SubgraphDataSource } from './datasource';
import { executorContext, SubscriptionHub } from './subscriptions';

interface PlannedOperation {
  plan: QueryPlan;
  operationContext: OperationContext;
}

export interface SupergraphOptions {
  logger: Logger;
  credentials: CredentialMinter;
  onAccessChanged?: (change: AccessChange) => void;
  subgraphTimeoutMs: number;
  /** Routing URL overrides by subgraph name. */
  subgraphUrls: Record<string, string>;
}

/**
 * One loaded supergraph: the client-facing schema, Apollo's query planner, and a data source
 * per subgraph. Executes an operation by planning it once per document (plans are cached on
 * the parsed document, which Yoga's parser cache keeps stable for identical queries) and
 * running the plan with Apollo's executor.
 */
export class LoadedSupergraph {
  readonly schema: GraphQLSchema;
  readonly dataSources: SubgraphDataSource[];
  /** Subscriptions running on this supergraph (they end when it is replaced). */
  readonly subscriptions: SubscriptionHub;
  private readonly supergraphSchema: GraphQLSchema;
  private readonly apiSchema: Schema;
  private readonly planner: QueryPlanner;
  private readonly serviceMap: ServiceMap;
  private readonly plans = new WeakMap<DocumentNode, Map<string, PlannedOperation>>();

  constructor(
    readonly sdl: string,
    private readonly options: SupergraphOptions,
  ) {
    const supergraph = Supergraph.build(sdl);
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.apiSchema = supergraph.apiSchema();
    this.schema = this.apiSchema.toGraphQLJSSchema();
    this.planner = new QueryPlanner(supergraph);
    this.dataSources = supergraph.subgraphsMetadata().map(
      ({ name, url }) =>
        new SubgraphDataSource(name, options.subgraphUrls[name] ?? url, {
          timeoutMs: options.subgraphTimeoutMs,
          logger: options.logger,
          credentials: options.credentials,
          onAccessChanged: options.onAccessChanged,
        }),
    );
    this.serviceMap = Object.fromEntries(this.dataSources.map((source) => [source.name, source]));
    this.subscriptions = new SubscriptionHub({
      logger: options.logger,
      credentials: options.credentials,
      supergraphSchema: this.supergraphSchema,
      apiSchema: this.apiSchema,
      serviceMap: this.serviceMap,
      dataSources: this.dataSources,
    });
  }

  /** The operation's plan and variables, or the errors that stop it before any fetch. */
  private prepare(
    args: ExecutionArgs,
  ): { planned: PlannedOperation; variables: Record<string, unknown> } | ExecutionResult {
    let planned: PlannedOperation;
    try {
      planned = this.plan(args.document, args.operationName ?? undefined);
    } catch (error) {
      if (error instanceof GraphQLError) return { errors: [error] };
      throw error;
    }
    const variables = (args.variableValues ?? {}) as Record<string, unknown>;
    // Apollo's executor trusts its variables: coerce them first so bad ones fail here, cleanly.
    const coerced = getVariableValues(
      this.schema,
      planned.operationContext.operation.variableDefinitions ?? [],
      variables,
    );
    if (coerced.errors) {
      // A request error, like a validation failure: 400 for application/graphql-response+json
      // (`spec` keeps 200 for application/json), as the GraphQL over HTTP spec asks.
      return {
        errors: coerced.errors.map(
          (e) =>
            new GraphQLError(e.message, {
              nodes: e.nodes,
              extensions: { code: 'BAD_USER_INPUT' satisfies ErrorCode, http: { spec: true, status: 400 } },
            }),
        ),
      };
    }
    return { planned, variables };
  }

  /** Runs a subscription: one stream from the owning subgraph, completed by the rest of the plan per event. */
  async subscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const prepared = this.prepare(args);
    if (!('planned' in prepared)) return prepared;
    const { planned, variables } = prepared;
    const node = planned.plan.node;
    if (node?.kind !== 'Subscription') return this.execute(args);
    return this.subscriptions.subscribe({
      operationKey: `${args.operationName ?? ''}\u0000${print(args.document)}`,
      plan: planned.plan as QueryPlan & { node: typeof node },
      operationContext: planned.operationContext,
      document: args.document,
      variables,
      operationName: args.operationName ?? undefined,
      context: args.contextValue as GatewayRequestContext,
    });
  }

  async execute(args: ExecutionArgs): Promise<ExecutionResult> {
    const operationName = args.operationName ?? undefined;
    const prepared = this.prepare(args);
    if (!('planned' in prepared)) return prepared;
    const { planned, variables } = prepared;
    const context = args.contextValue as GatewayRequestContext & { logger?: Logger };
    const requestContext = executorContext(
      args.document,
      operationName,
      variables,
      context,
      this.options.logger,
    );
    return (await executeQueryPlan(
      planned.plan,
      this.serviceMap,
      requestContext,
      planned.operationContext,
      this.supergraphSchema,
      this.apiSchema,
    )) as ExecutionResult;
  }

  private plan(document: DocumentNode, operationName: string | undefined): PlannedOperation {
    let byName = this.plans.get(document);
    if (!byName) {
      byName = new Map();
      this.plans.set(document, byName);
    }
    const key = operationName ?? '';
    let planned = byName.get(key);
    if (!planned) {
      if (!getOperationAST(document, operationName)) {
        throw graphqlError(
          'BAD_USER_INPUT',
          operationName
            ? `Unknown operation named "${operationName}".`
            : 'Pass operationName to choose among several operations.',
        );
      }
      const operation = operationFromDocument(this.apiSchema, document, { operationName });
      planned = {
        plan: this.planner.buildQueryPlan(operation),
        operationContext: buildOperationContext({
          schema: this.schema,
          operationDocument: document,
          operationName,
        }),
      };
      byName.set(key, planned);
    }
    return planned;
  }

  async close(): Promise<void> {
    this.subscriptions.endAll('The gateway is shutting down; subscribe again.', 'SHUTTING_DOWN');
    await Promise.all(this.dataSources.map((source) => source.close()));
  }
}
