import type { Encryptor } from '../../common/encryption';
import type { Logger } from '../../common/logger';
import type { Outbox } from '../../common/outbox';
import type { EventBus } from '../../common/pubsub';
import type { AccessTokens } from '../auth/access-tokens';
import type { AccountsSettings } from '../config';
import type { RateLimits } from '../identity/rate-limits';
import type { Mailer } from '../mail/mailer';
import type { AccountsStorage, SessionLifetimes } from '../storage';
import { createAccessService } from './access';
import { createInvitationsService } from './invitations';
import { createMembersService } from './members';
import { createOrganizationsService } from './organizations';
import { createPasswordResetService } from './password-reset';
import { createSessionsService } from './sessions';
import { createSignInService } from './sign-in';
import { createTwoFactorService } from './two-factor';
import { createUsersService } from './users';

/** What accounts' services are built from, once, in `index.ts`. */
export interface AccountsDependencies {
  storage: AccountsStorage;
  /** Signs the access tokens of new and refreshed sessions. */
  accessTokens: AccessTokens;
  /** Keeps TOTP secrets encrypted at rest. */
  encryptor: Encryptor;
  /** The SMTP mailer when SMTP_URL is set, the development mailbox otherwise (none in production without SMTP_URL). */
  mailer: Mailer | undefined;
  rateLimits: RateLimits;
  /** Platform events (member.added, organization.deleted, …), emitted in the transaction of the change. */
  outbox: Outbox;
  events: EventBus;
  logger: Logger;
  settings: AccountsSettings;
  lifetimes: SessionLifetimes;
}

/** The accounts subgraph's services; resolvers reach them as `ctx.services`. */
export function createAccountsServices(dependencies: AccountsDependencies) {
  const access = createAccessService(dependencies);
  const sessions = createSessionsService({ ...dependencies, access });
  const twoFactor = createTwoFactorService({ ...dependencies, sessions });
  return {
    access,
    sessions,
    twoFactor,
    signIn: createSignInService({ ...dependencies, sessions, twoFactor }),
    passwordReset: createPasswordResetService({ ...dependencies, access }),
    users: createUsersService({ sessions }),
    organizations: createOrganizationsService({ ...dependencies, access }),
    members: createMembersService({ ...dependencies, access }),
    invitations: createInvitationsService({ ...dependencies, access }),
  };
}

export type AccountsServices = ReturnType<typeof createAccountsServices>;
