import type { BaseContext } from '../common/context';
import type { Encryptor } from '../common/encryption';
import type { Outbox } from '../common/outbox';
import type { AccessTokens } from './auth/access-tokens';
import type { AccountsConfig } from './config';
import type { IdentityContext } from './identity/runtime';
import type { Mailer } from './mail/mailer';
import type { AccountsStorage, createAccountsLoaders } from './storage';
import type { TeamsStorage } from './teams/storage';

export interface AccountsContext extends BaseContext {
  settings: AccountsConfig;
  storage: AccountsStorage;
  accessTokens: AccessTokens;
  encryptor: Encryptor;
  /** The SMTP mailer when SMTP_URL is set, the development mailbox otherwise (none in production without SMTP_URL). */
  mailer: Mailer | undefined;
  loaders: ReturnType<typeof createAccountsLoaders>;
  /** Sign-up, sign-in, sessions, password reset and two-factor (subgraphs/accounts/identity). */
  identity: IdentityContext;
  /** Organizations, memberships and invitations (subgraphs/accounts/teams). */
  teams: TeamsStorage;
  /** Platform events (member.added, …), emitted in the transaction of the change. */
  outbox: Outbox;
}
