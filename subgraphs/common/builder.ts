import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import DirectivePlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { DateTimeResolver } from 'graphql-scalars';
import { hasRole, isMember, type Role } from './caller';
import type { Scope } from './context';
import { refusal } from './errors';

/** The schema types every subgraph shares; `TContext` is the subgraph's own context. */
export interface SubgraphSchemaTypes<TContext extends Scope<unknown>> {
  Context: TContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    ID: { Input: string; Output: string };
  };
  AuthScopes: {
    /** A signed-in user. */
    authenticated: boolean;
    /** A member of this organization (any role). */
    member: string;
    /** A member of this organization with at least this role. */
    role: { organizationId: string; atLeast: Exclude<Role, 'BILLING'> };
  };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
}

/**
 * A Pothos builder with the plugins every subgraph uses, in the order Pothos needs (auth
 * wraps resolvers before federation builds `_entities`), and the scalars and relay types
 * configured for composition: PageInfo is shareable, and there is no global `node` field
 * because no single subgraph can resolve every type.
 */
export function createBuilder<TContext extends Scope<unknown>>() {
  const builder = new SchemaBuilder<SubgraphSchemaTypes<TContext>>({
    plugins: [
      ScopeAuthPlugin,
      ValidationPlugin,
      DataloaderPlugin,
      RelayPlugin,
      DirectivePlugin,
      FederationPlugin,
    ],
    // Non-null unless a field says otherwise: fields that cross subgraphs opt into null so an
    // outage of one subgraph degrades only its own fields.
    defaultFieldNullability: false,
    scopeAuth: {
      // Scopes are checked against the caller the gateway vouched for: no lookup per field.
      authScopes: ({ caller }) => ({
        authenticated: caller.kind === 'user',
        member: (organizationId) => isMember(caller, organizationId),
        role: ({ organizationId, atLeast }) => hasRole(caller, organizationId, atLeast),
      }),
      unauthorizedError: (_parent, { caller }, _info, result) => refusal(caller, result.message),
    },
    relay: {
      cursorType: 'String',
      clientMutationId: 'omit',
      nodeQueryOptions: false,
      nodesQueryOptions: false,
      pageInfoTypeOptions: {
        shareable: true,
        description: 'Where a page of a connection sits in the whole list.',
      },
      nodeTypeOptions: { description: 'An object with a globally unique ID.' },
      edgesFieldOptions: {
        nullable: { list: false, items: false },
        description: 'The items of this page, each with its cursor.',
      },
      pageInfoFieldOptions: { description: 'Cursors and flags to fetch the next or previous page.' },
      cursorFieldOptions: { description: 'An opaque cursor to pass as `after` or `before`.' },
      nodeFieldOptions: { nullable: false, description: 'The item at the end of this edge.' },
      hasNextPageFieldOptions: { description: 'Whether items follow this page.' },
      hasPreviousPageFieldOptions: { description: 'Whether items precede this page.' },
      startCursorFieldOptions: { description: 'The cursor of the first item of this page.' },
      endCursorFieldOptions: { description: 'The cursor of the last item of this page.' },
      firstArgOptions: { description: 'How many items to return from the start (at most 100).' },
      lastArgOptions: { description: 'How many items to return from the end (at most 100).' },
      afterArgOptions: { description: 'Return items after this cursor.' },
      beforeArgOptions: { description: 'Return items before this cursor.' },
    },
  });

  builder.addScalarType('DateTime', DateTimeResolver, {
    description: 'A point in time, as an ISO 8601 string in UTC (`2026-11-23T19:21:00.000Z`).',
  });

  return builder;
}
