import { z } from 'zod';
import type { ProjectRow } from '../../../db/deployments/schema';
import { type UserError, userError, userErrorsFromZod } from '../../common/errors';
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

export async function createProject(ctx: DeploymentsContext, input: unknown): Promise<ProjectPayload> {
  const parsed = createProjectInput.safeParse(input);
  if (!parsed.success) return { project: null, userErrors: userErrorsFromZod(parsed.error) };
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
