import { z } from 'zod';
import type { OrganizationRow } from '../../../../db/accounts/schema';
import { type UserError, userError, userErrorsFromZod } from '../../../common/errors';
import { displayName, isUniqueViolation, slug } from '../../../common/validation';
import type { AccountsContext } from '../../context';
import { noteOwnRoleChange, publishAccessChanged } from '../access';
import { noSuchOrganization, requireRole, signedInUserId } from './guard';

export interface OrganizationPayload {
  organization: OrganizationRow | null;
  userErrors: UserError[];
}

export interface DeleteOrganizationPayload {
  deletedOrganizationId: string | null;
  userErrors: UserError[];
}

const createInput = z.object({ name: displayName, slug });

const updateInput = z.object({
  organizationId: z.string(),
  // null and absent both mean "leave as it is".
  name: displayName.nullish().transform((v) => v ?? undefined),
  slug: slug.nullish().transform((v) => v ?? undefined),
});

const slugTaken = (): OrganizationPayload => ({
  organization: null,
  userErrors: [userError(['input', 'slug'], 'This slug is taken.', 'TAKEN')],
});

/** Any signed-in user may create an organization, and becomes its OWNER. */
export async function createOrganization(ctx: AccountsContext, input: unknown): Promise<OrganizationPayload> {
  const userId = signedInUserId(ctx);
  const parsed = createInput.safeParse(input);
  if (!parsed.success) return { organization: null, userErrors: userErrorsFromZod(parsed.error) };
  let organization: OrganizationRow;
  try {
    organization = await ctx.teams.transaction((tx) =>
      tx.insertOrganization({ ...parsed.data, ownerId: userId }),
    );
  } catch (error) {
    if (isUniqueViolation(error, 'organizations_slug_unique')) return slugTaken();
    throw error;
  }
  noteOwnRoleChange(ctx, organization.id, 'OWNER');
  await publishAccessChanged(ctx, [userId]);
  return { organization, userErrors: [] };
}

/** Renames an organization or changes its slug: ADMIN or higher. */
export async function updateOrganization(ctx: AccountsContext, input: unknown): Promise<OrganizationPayload> {
  const userId = signedInUserId(ctx);
  const parsed = updateInput.safeParse(input);
  if (!parsed.success) return { organization: null, userErrors: userErrorsFromZod(parsed.error) };
  const { organizationId, name, slug } = parsed.data;
  try {
    return await ctx.teams.transaction(async (tx) => {
      const actor = (await tx.lockMemberships(organizationId, [userId])).find((m) => m.userId === userId);
      if (!actor) return { organization: null, userErrors: [noSuchOrganization()] };
      requireRole(ctx, actor, 'ADMIN', 'Changing the organization');
      return { organization: await tx.updateOrganization(organizationId, { name, slug }), userErrors: [] };
    });
  } catch (error) {
    if (isUniqueViolation(error, 'organizations_slug_unique')) return slugTaken();
    throw error;
  }
}

/**
 * Deletes an organization with its memberships and invitations (OWNER only, never a personal
 * one); its projects go too, once deployments receives `organization.deleted`.
 */
export async function deleteOrganization(
  ctx: AccountsContext,
  input: { organizationId: string },
): Promise<DeleteOrganizationPayload> {
  const userId = signedInUserId(ctx);
  const { organizationId } = input;
  const result = await ctx.teams.transaction(async (tx, client) => {
    const actor = (await tx.lockMemberships(organizationId, [userId])).find((m) => m.userId === userId);
    if (!actor) return { userErrors: [noSuchOrganization()], members: [] };
    requireRole(ctx, actor, 'OWNER', 'Deleting the organization');
    const organization = await tx.organizationById(organizationId);
    if (!organization) return { userErrors: [noSuchOrganization()], members: [] };
    if (organization.personal) {
      return {
        userErrors: [
          userError(['input', 'organizationId'], 'A personal organization cannot be deleted.', 'CONFLICT'),
        ],
        members: [],
      };
    }
    const members = await tx.deleteOrganization(organizationId);
    // Deployments deletes the organization's projects when this reaches it (`eventConsumers`).
    await ctx.outbox.emit(client, {
      type: 'organization.deleted',
      organizationId,
      actor: ctx.caller,
      subjects: { organizationId },
      payload: {
        organizationId,
        name: organization.name,
        slug: organization.slug,
        members: members.length,
      },
    });
    return { userErrors: [], members };
  });
  if (result.userErrors.length > 0) return { deletedOrganizationId: null, userErrors: result.userErrors };
  ctx.outbox.wake();
  noteOwnRoleChange(ctx, organizationId, null);
  await publishAccessChanged(ctx, result.members);
  return { deletedOrganizationId: organizationId, userErrors: [] };
}
