import type { InvitationRow, MembershipRow, OrganizationRow } from '../../../db/accounts/schema';
import type { Role } from '../../common/caller';
import { builder } from '../builder';

/**
 * The teams types, declared here and implemented in their own modules (organization.ts,
 * membership.ts, invitation.ts), so modules can name one another's types without import cycles.
 */
export const OrganizationType = builder.objectRef<OrganizationRow>('Organization');
export const MembershipType = builder.objectRef<MembershipRow>('Membership');
export const InvitationType = builder.objectRef<InvitationRow>('Invitation');

export const MemberRoleType = builder.enumType('MemberRole', {
  description:
    'What a member may do in an organization. OWNER > ADMIN > MEMBER > VIEWER; BILLING stands apart.',
  values: {
    OWNER: { description: 'Everything, including deleting the organization and granting OWNER.' },
    ADMIN: { description: 'Manages the organization, its members and invitations, up to ADMIN.' },
    MEMBER: { description: 'Works on projects and deployments.' },
    VIEWER: { description: 'Reads the organization, its members and projects.' },
    BILLING: { description: 'Manages billing only: sees the organization, nothing else of it.' },
  } satisfies Record<Role, { description: string }>,
});

export const MembershipConnection = builder.connectionObject(
  { type: MembershipType, name: 'MembershipConnection', description: 'A page of memberships.' },
  { name: 'MembershipEdge', description: 'A membership in a page of memberships.' },
);
