import type { Role } from '../../common/caller';
import { builder } from '../builder';

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
