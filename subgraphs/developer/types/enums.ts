import type { apiKeyScopes } from '../../common/caller';
import { builder } from '../builder';
import type { ApiKeyStatus } from '../services/api-keys';

export const ApiKeyScopeEnum = builder.enumType('ApiKeyScope', {
  description:
    'What an API key may do in its organization. A key never does more than its creator’s current role allows.',
  values: {
    READ_ONLY: { description: 'Read what a VIEWER reads. Creating one takes the VIEWER role or higher.' },
    DEPLOY: {
      description:
        'Act as a MEMBER: create projects, deploy, roll back. Creating one takes the MEMBER role or higher.',
    },
    ADMIN: {
      description:
        'Act as an ADMIN of the organization (never as its OWNER). Creating one takes the ADMIN role or higher.',
    },
  } satisfies Record<(typeof apiKeyScopes)[number], { description: string }>,
});

export const ApiKeyStatusEnum = builder.enumType('ApiKeyStatus', {
  description: 'Whether an API key works.',
  values: {
    ACTIVE: { description: 'It authenticates requests.' },
    EXPIRED: { description: 'Its `expiresAt` has passed (or the grace period of a rotation ended).' },
    REVOKED: { description: 'Revoked by a person, or replaced by a rotation with no grace period.' },
  } satisfies Record<ApiKeyStatus, { description: string }>,
});
