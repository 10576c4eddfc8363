import type { InvitationRow, MembershipRow, OrganizationRow } from '../../../db/accounts/schema';
import { builder } from '../builder';

/**
 * The teams types, declared here and implemented in their own modules (organization.ts,
 * membership.ts, invitation.ts), so modules can name one another's types without import cycles.
 */
export const OrganizationType = builder.objectRef<OrganizationRow>('Organization');
export const MembershipType = builder.objectRef<MembershipRow>('Membership');
export const InvitationType = builder.objectRef<InvitationRow>('Invitation');

export const MembershipConnection = builder.connectionObject(
  { type: MembershipType, name: 'MembershipConnection', description: 'A page of memberships.' },
  { name: 'MembershipEdge', description: 'A membership in a page of memberships.' },
);
