import type { BaseContext } from '../common/context';
import type { Encryptor } from '../common/encryption';
import type { AccessTokens } from './auth/access-tokens';
import type { AccountsConfig } from './config';
import type { Mailer } from './mail/mailer';
import type { AccountsStorage, createAccountsLoaders } from './storage';

export interface AccountsContext extends BaseContext {
  settings: AccountsConfig;
  storage: AccountsStorage;
  accessTokens: AccessTokens;
  encryptor: Encryptor;
  /** The SMTP mailer when SMTP_URL is set, the development mailbox otherwise (TODO identity: SMTP). */
  mailer: Mailer | undefined;
  loaders: ReturnType<typeof createAccountsLoaders>;
}
