import type { UserRow } from '../../../db/accounts/schema';
import { builder } from '../builder';

export const UserType = builder.objectRef<UserRow>('User').implement({
  description: 'A person with a Construct account.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`usr_…`).' }),
    name: t.exposeString('name', { description: 'Display name.' }),
    avatarUrl: t.exposeString('avatarUrl', {
      nullable: true,
      description: 'URL of the avatar image, if any.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the account was created.' }),
  }),
});

builder.asEntity(UserType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => ctx.loaders.user.load(ref.id),
});
