import { builder } from '../builder';

/**
 * Users belong to accounts; developer only points at them (a key's creator) and adds no field,
 * so the planner never asks this subgraph for a user (`resolvable: false`).
 */
export const UserRef = builder
  .externalRef('User', builder.keyDirective(builder.selection<{ id: string }>('id'), false))
  .implement({
    description: 'A person with an account.',
    fields: (t) => ({ id: t.exposeID('id', { description: 'Opaque, stable identifier (`usr_…`).' }) }),
  });
