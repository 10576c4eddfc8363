import { builder } from '../builder';

/** Users belong to accounts; deployments knows their id and adds what they deployed. */
export const UserRef = builder.externalRef('User', builder.selection<{ id: string }>('id'));
