import { z } from 'zod';
import type { ProjectRow } from '../../../db/deployments/schema';
import { hasRole, isMember } from '../../common/caller';
import { refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import { displayName, isUniqueViolation, slug } from '../../common/validation';
import type { DeploymentsContext } from '../context';

const createProjectInput = z.object({
  organizationId: z.string().regex(/^org_[0-9A-Z]{26}$/, 'Not an organization ID.'),
  name: displayName,
  slug,
});

export interface ProjectPayload {
  project: ProjectRow | null;
  userErrors: UserError[];
}

/** The project, if it exists and the caller belongs to its organization; null otherwise (no hint which). */
export async function visibleProject(ctx: DeploymentsContext, id: string): Promise<ProjectRow | null> {
  const project = await ctx.loaders.project.load(id);
  return project && isMember(ctx.caller, project.organizationId) ? project : null;
}

export async function createProject(ctx: DeploymentsContext, input: unknown): Promise<ProjectPayload> {
  if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
  const parsed = createProjectInput.safeParse(input);
  if (!parsed.success) return { project: null, userErrors: userErrorsFromZod(parsed.error) };
  const { organizationId } = parsed.data;
  if (!isMember(ctx.caller, organizationId)) {
    // Not a member: the same answer as for an organization that does not exist.
    return {
      project: null,
      userErrors: [userError(['input', 'organizationId'], 'No such organization.', 'NOT_FOUND')],
    };
  }
  if (!hasRole(ctx.caller, organizationId, 'MEMBER')) {
    throw refusal(ctx.caller, 'Creating projects takes the MEMBER role or higher in this organization.');
  }
  try {
    return { project: await ctx.storage.insertProject(parsed.data), userErrors: [] };
  } catch (error) {
    if (isUniqueViolation(error, 'projects_organization_slug_key')) {
      return {
        project: null,
        userErrors: [
          userError(['input', 'slug'], 'This organization already has a project with this slug.', 'TAKEN'),
        ],
      };
    }
    throw error;
  }
}
