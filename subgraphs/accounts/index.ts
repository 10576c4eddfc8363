import { fileURLToPath } from 'node:url';
import type { SubgraphDefinition } from '../common/definition';
import { subgraphEncryptor } from '../common/encryption';
import { createJobQueue } from '../common/jobs';
import { importKeyPair, loadOrCreateKeyPair } from '../common/keys';
import { createOutbox } from '../common/outbox';
import { createAccessTokens } from './auth/access-tokens';
import { loadAccountsConfig } from './config';
import { createIdentityRuntime, identityContext } from './identity/runtime';
import { DevMailbox, type Mailer } from './mail/mailer';
import { SmtpMailer } from './mail/smtp';
import { schema } from './schema';
import { createAccountsLoaders, createAccountsStorage } from './storage';
import { createTeamsStorage } from './teams/storage';

/** Users, sessions, organizations, memberships and invitations. */
export const accounts: SubgraphDefinition = {
  name: 'accounts',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/accounts/migrations', import.meta.url)),
  async setup({ pool, config, logger }) {
    const settings = loadAccountsConfig(config.env, config.NODE_ENV === 'production');
    const signingKey = settings.ACCESS_TOKEN_PRIVATE_KEY
      ? await importKeyPair(settings.ACCESS_TOKEN_PRIVATE_KEY)
      : await loadOrCreateKeyPair(config.KEYS_DIR, 'access-token');
    const encryptor = subgraphEncryptor(
      settings.ACCOUNTS_ENCRYPTION_KEY,
      config.KEYS_DIR,
      'accounts-encryption',
    );
    const accessTokens = createAccessTokens(signingKey, settings);
    const storage = createAccountsStorage(pool);
    const teams = createTeamsStorage(pool);
    // SMTP when configured; otherwise the development mailbox (never in production).
    const mailbox =
      settings.SMTP_URL || config.NODE_ENV === 'production' ? undefined : new DevMailbox(logger);
    const mailer: Mailer | undefined = settings.SMTP_URL
      ? new SmtpMailer(settings.SMTP_URL, settings.MAIL_FROM, logger)
      : mailbox;
    if (!mailer)
      logger.warn('SMTP_URL is not set: accounts cannot send email (password resets, invitations)');
    const identity = await createIdentityRuntime({ pool, settings, redisUrl: config.REDIS_URL, logger });
    const jobs = await createJobQueue(pool, logger);
    const outbox = await createOutbox({ jobs, source: 'accounts', config, logger });
    return {
      context: (base) => ({
        ...base,
        settings,
        storage,
        accessTokens,
        encryptor,
        mailer,
        loaders: createAccountsLoaders(storage),
        identity: identityContext(identity),
        teams,
        outbox,
      }),
      routes: {
        '/.well-known/jwks.json': accessTokens.jwksRoute,
        ...(mailbox ? { '/dev/mailbox': mailbox.route } : {}),
      },
      async close() {
        await jobs.close();
        await identity.close();
        if (mailer instanceof SmtpMailer) mailer.close();
      },
    };
  },
};
