import { z } from 'zod';
import type { OrganizationRow } from '../../../db/accounts/schema';
import { type UserError, userError, userErrorsFromZod } from '../../common/errors';
import { displayName, isUniqueViolation, slug } from '../../common/validation';
import type { AccountsContext } from '../context';

const createOrganizationInput = z.object({ name: displayName, slug });

export interface OrganizationPayload {
  organization: OrganizationRow | null;
  userErrors: UserError[];
}

export async function createOrganization(ctx: AccountsContext, input: unknown): Promise<OrganizationPayload> {
  const parsed = createOrganizationInput.safeParse(input);
  if (!parsed.success) return { organization: null, userErrors: userErrorsFromZod(parsed.error) };
  try {
    const organization = await ctx.storage.insertOrganization(parsed.data);
    return { organization, userErrors: [] };
  } catch (error) {
    if (isUniqueViolation(error, 'organizations_slug_unique')) {
      return {
        organization: null,
        userErrors: [userError(['input', 'slug'], 'This slug is taken.', 'TAKEN')],
      };
    }
    throw error;
  }
}
