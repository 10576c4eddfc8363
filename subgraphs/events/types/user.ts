import { builder } from '../builder';

/** Users belong to accounts; events knows their id, as the actor of an event. */
export const UserRef = builder.externalRef('User', builder.selection<{ id: string }>('id')).implement({
  description: 'A person with an account.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`usr_…`).' }),
  }),
});
