import type { UserRow } from '../../../db/accounts/schema';
import { builder } from '../builder';
import type { AccountsContext } from '../context';

/** Whether the caller is this user (or has just signed in as them in this request). */
export const isSelf = (ctx: AccountsContext, userId: string) =>
  (ctx.caller.kind === 'user' && ctx.caller.userId === userId) || ctx.identity.signedIn.has(userId);

/**
 * Whether the caller may read this user's email: the user themself, and members of an
 * organization the user belongs to. The caller's memberships come with the request; the user's
 * are looked up once per request for all the users it shows.
 */
export async function canSeeEmail(ctx: AccountsContext, userId: string): Promise<boolean> {
  if (isSelf(ctx, userId)) return true;
  if (ctx.caller.kind !== 'user') return false;
  const callerOrganizations = ctx.caller.memberships;
  if (Object.keys(callerOrganizations).length === 0) return false;
  const organizations = await ctx.identity.organizationsOfUser.load(userId);
  return organizations.some((id) => callerOrganizations[id] !== undefined);
}

export const UserType = builder.objectRef<UserRow>('User').implement({
  description: 'A person with a Construct account.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`usr_…`).' }),
    email: t.string({
      nullable: true,
      description:
        'Email address: visible to the user and to members of an organization they belong to; null for anyone else.',
      resolve: async (user, _, ctx) => ((await canSeeEmail(ctx, user.id)) ? user.email : null),
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
  // Anyone may know a user exists by ID (a project's creator, a member); what they may read
  // of it is decided per field.
  resolveReference: (ref, ctx) => ctx.loaders.user.load(ref.id),
});
