import { builder } from '../builder';
import type { InvitationStatus } from '../services/invitations';

export const InvitationStatusType = builder.enumType('InvitationStatus', {
  description: 'Where an invitation stands.',
  values: {
    PENDING: { description: 'Sent, and can still be accepted.' },
    ACCEPTED: { description: 'Accepted: its token works no more.' },
    REVOKED: { description: 'Withdrawn by an admin, or replaced by a newer invitation to the same address.' },
    EXPIRED: { description: 'Not accepted within 7 days.' },
  } satisfies Record<InvitationStatus, { description: string }>,
});
