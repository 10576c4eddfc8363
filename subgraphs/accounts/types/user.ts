import type { UserRow } from '../../../db/accounts/schema';
import { builder } from '../builder';

export const UserType = builder.objectRef<UserRow>('User').implement({
  description: 'A person with a Construct account.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`usr_…`).' }),
    email: t.string({
      nullable: true,
      description:
        'Email address: visible to the user and to members of an organization they belong to; null for anyone else.',
      resolve: (user, _, ctx) => ctx.services.users.email(ctx, user),
    }),
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
  resolveReference: (ref, ctx) => ctx.services.users.byId(ctx, ref.id),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: UserType,
    nullable: true,
    description: 'The signed-in user; null for an anonymous caller.',
    resolve: (_, __, ctx) => ctx.services.users.viewer(ctx),
  }),
}));
