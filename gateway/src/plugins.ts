import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { type GraphQLError, NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ErrorCode } from '../../subgraphs/common/errors';
import type { GatewayConfig } from './config';
import type { SupergraphManager } from './supergraph-manager';

/** Serves the manager's current supergraph and runs operations (subscriptions too) through its query planner. */
export function useSupergraph(manager: SupergraphManager): Plugin {
  return {
    onPluginInit({ setSchema }) {
      setSchema(manager.current.schema);
      manager.onChange((supergraph) => setSchema(supergraph.schema));
    },
    onExecute({ args, setExecuteFn }) {
      setExecuteFn((executionArgs) => manager.forSchema(args.schema).execute(executionArgs));
    },
    onSubscribe({ args, setSubscribeFn }) {
      setSubscribeFn((subscribeArgs) => manager.forSchema(args.schema).subscribe(subscribeArgs));
    },
  };
}

/** Request limits: the cheapest requests to refuse are the ones never planned. */
export function useRequestLimits(config: GatewayConfig): Plugin[] {
  // Armor's errors carry no code; give them the one of every other invalid document, and its
  // HTTP status (400 for application/graphql-response+json; `spec` keeps 200 for application/json).
  const reject = {
    onReject: [
      (_: unknown, error: GraphQLError) =>
        Object.assign(error.extensions, {
          code: 'GRAPHQL_VALIDATION_FAILED' satisfies ErrorCode,
          http: { spec: true, status: 400 },
        }),
    ],
  };
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: config.MAX_DEPTH, ignoreIntrospection: true, ...reject },
    maxAliases: { n: config.MAX_ALIASES, ...reject },
    maxTokens: { n: config.MAX_TOKENS, ...reject },
    maxDirectives: { n: config.MAX_DIRECTIVES, ...reject },
    costLimit: { maxCost: config.MAX_COST, ignoreIntrospection: true, ...reject },
    // "Did you mean …?" hints reveal the schema where introspection is off.
    blockFieldSuggestion: { enabled: !config.INTROSPECTION },
  });
  const plugins: Plugin[] = [armor as Plugin];
  if (!config.INTROSPECTION) {
    plugins.push({
      onValidate({ addValidationRule }) {
        addValidationRule(NoSchemaIntrospectionCustomRule);
      },
    });
  }
  return plugins;
}

/**
 * A browser sends "simple" requests (GET, form posts) cross-site without a preflight; such a
 * request must carry a header no form can set. JSON POSTs are preflighted and always pass.
 */
export function useCsrfPrevention(): Plugin {
  return useCSRFPrevention({
    requestHeaders: [
      'x-graphql-yoga-csrf',
      'apollo-require-preflight',
      'x-apollo-operation-name',
      'graphql-preflight',
    ],
  });
}
