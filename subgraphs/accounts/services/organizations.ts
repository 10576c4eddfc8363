import { z } from 'zod';
import type { OrganizationRow } from '../../../db/accounts/schema';
import type { Role } from '../../common/caller';
import { type UserError, userError, userErrorsFromZod } from '../../common/errors';
import type { Outbox } from '../../common/outbox';
import { type ConnectionArgs, keysetConnection } from '../../common/pagination';
import { displayName, isUniqueViolation, slug } from '../../common/validation';
import type { AccountsScope, AccountsStorage } from '../storage';
import { type AccessService, noSuchOrganization, requireRole, signedInUserId } from './access';

export interface OrganizationPayload {
  organization: OrganizationRow | null;
  userErrors: UserError[];
}

export interface DeleteOrganizationPayload {
  deletedOrganizationId: string | null;
  userErrors: UserError[];
}

export interface CreateOrganizationInput {
  name: string;
  slug: string;
}

export interface UpdateOrganizationInput {
  organizationId: string;
  name?: string | null;
  slug?: string | null;
}

/**
 * A project named by its organization's slug and its own, as deployments knows it: accounts
 * turns the organization's slug into its ID and never reads a project.
 */
export interface ProjectKey {
  organization: { id: string };
  slug: string;
}

const createRules = z.object({ name: displayName, slug });

const updateRules = z.object({
  // null and absent both mean "leave as it is".
  name: displayName.nullish().transform((v) => v ?? undefined),
  slug: slug.nullish().transform((v) => v ?? undefined),
});

const slugTaken = (): OrganizationPayload => ({
  organization: null,
  userErrors: [userError(['input', 'slug'], 'This slug is taken.', 'TAKEN')],
});

/** A slug as typed in a URL or the CLI: case and surrounding spaces do not count. */
const slugKey = (value: string) => value.trim().toLowerCase();

export interface OrganizationsDependencies {
  storage: AccountsStorage;
  /** `organization.deleted` goes out in the transaction of the deletion. */
  outbox: Outbox;
  access: AccessService;
}

/** Organizations: who sees one, and their creation, changes and deletion. */
export function createOrganizationsService({ storage, outbox, access }: OrganizationsDependencies) {
  /** Only members see an organization, whatever the path that reached it. */
  const canSee = (scope: AccountsScope, organizationId: string) =>
    access.role(scope, organizationId) !== null;

  /** The caller's organization with this slug; null if there is none or they are not a member. */
  async function bySlug(scope: AccountsScope, value: string): Promise<OrganizationRow | null> {
    if (scope.caller.kind === 'anonymous') return null;
    const organization = await storage.organizationBySlug(slugKey(value));
    return organization && canSee(scope, organization.id) ? organization : null;
  }

  return {
    canSee,
    bySlug,

    /** The caller's role in the organization; null if they are not a member. */
    viewerRole: (scope: AccountsScope, organizationId: string): Role | null =>
      access.role(scope, organizationId),

    /**
     * The organization, if the caller is a member: other subgraphs name organizations by ID
     * (`Project.organization`), and a non-member gets the answer of one that does not exist.
     */
    async visible(scope: AccountsScope, id: string): Promise<OrganizationRow | null> {
      return canSee(scope, id) ? scope.loaders.organization.load(id) : null;
    },

    /**
     * The organization a membership or invitation belongs to, which goes with them (so a missing
     * one is a fault of ours); the Organization type's authScopes still decide who reads it.
     */
    async existing(scope: AccountsScope, id: string): Promise<OrganizationRow> {
      const organization = await scope.loaders.organization.load(id);
      if (!organization) throw new Error(`a membership or invitation of a missing organization ${id}`);
      return organization;
    },

    /** The organizations the caller belongs to, oldest first. */
    ofViewer(scope: AccountsScope, args: ConnectionArgs) {
      return keysetConnection(args, (page) =>
        storage.organizationsAmong(access.organizationIds(scope), page),
      );
    },

    /**
     * The key of the project with this slug in the caller's organization with that slug, for
     * deployments to resolve and authorize; null if there is no such organization of theirs.
     */
    async projectKey(
      scope: AccountsScope,
      input: { organizationSlug: string; slug: string },
    ): Promise<ProjectKey | null> {
      const organization = await bySlug(scope, input.organizationSlug);
      return organization ? { organization: { id: organization.id }, slug: slugKey(input.slug) } : null;
    },

    /** Any signed-in user may create an organization, and becomes its OWNER. */
    async create(scope: AccountsScope, input: CreateOrganizationInput): Promise<OrganizationPayload> {
      const userId = signedInUserId(scope.caller);
      const parsed = createRules.safeParse(input);
      if (!parsed.success) return { organization: null, userErrors: userErrorsFromZod(parsed.error) };
      let organization: OrganizationRow;
      try {
        organization = await storage.transaction((tx) =>
          tx.insertOrganization({ ...parsed.data, ownerId: userId }),
        );
      } catch (error) {
        if (isUniqueViolation(error, 'organizations_slug_unique')) return slugTaken();
        throw error;
      }
      access.noteOwnRoleChange(scope, organization.id, 'OWNER');
      await access.changed([userId]);
      return { organization, userErrors: [] };
    },

    /** Renames an organization or changes its slug: ADMIN or higher. */
    async update(scope: AccountsScope, input: UpdateOrganizationInput): Promise<OrganizationPayload> {
      const userId = signedInUserId(scope.caller);
      const parsed = updateRules.safeParse(input);
      if (!parsed.success) return { organization: null, userErrors: userErrorsFromZod(parsed.error) };
      const { organizationId } = input;
      try {
        return await storage.transaction(async (tx) => {
          const actor = (await tx.lockMemberships(organizationId, [userId])).find((m) => m.userId === userId);
          if (!actor) return { organization: null, userErrors: [noSuchOrganization()] };
          requireRole(scope.caller, actor, 'ADMIN', 'Changing the organization');
          return { organization: await tx.updateOrganization(organizationId, parsed.data), userErrors: [] };
        });
      } catch (error) {
        if (isUniqueViolation(error, 'organizations_slug_unique')) return slugTaken();
        throw error;
      }
    },

    /**
     * Deletes an organization with its memberships and invitations (OWNER only, never a personal
     * one); its projects go too, once deployments receives `organization.deleted`.
     */
    async delete(
      scope: AccountsScope,
      input: { organizationId: string },
    ): Promise<DeleteOrganizationPayload> {
      const userId = signedInUserId(scope.caller);
      const { organizationId } = input;
      const refused = (error: UserError) => ({ userErrors: [error], members: [] });
      const result = await storage.transaction(async (tx, client) => {
        const actor = (await tx.lockMemberships(organizationId, [userId])).find((m) => m.userId === userId);
        if (!actor) return refused(noSuchOrganization());
        requireRole(scope.caller, actor, 'OWNER', 'Deleting the organization');
        const organization = await tx.organizationById(organizationId);
        if (!organization) return refused(noSuchOrganization());
        if (organization.personal) {
          return refused(
            userError(['input', 'organizationId'], 'A personal organization cannot be deleted.', 'CONFLICT'),
          );
        }
        const members = await tx.deleteOrganization(organizationId);
        // Deployments deletes the organization's projects when this reaches it (`eventConsumers`).
        await outbox.emit(client, {
          type: 'organization.deleted',
          organizationId,
          actor: scope.caller,
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
      outbox.wake();
      access.noteOwnRoleChange(scope, organizationId, null);
      await access.changed(result.members);
      return { deletedOrganizationId: organizationId, userErrors: [] };
    },
  };
}

export type OrganizationsService = ReturnType<typeof createOrganizationsService>;
