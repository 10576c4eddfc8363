import { fileURLToPath } from 'node:url';
import { defineSubgraph } from '../common/definition';
import { subgraphEncryptor } from '../common/encryption';
import { createJobQueue } from '../common/jobs';
import { importKeyPair, loadOrCreateKeyPair } from '../common/keys';
import { createOutbox } from '../common/outbox';
import { createAccessTokens } from './auth/access-tokens';
import { accountsSettings } from './config';
import { prepareDummyHash } from './identity/passwords';
import { createRateLimits } from './identity/rate-limits';
import { DevMailbox, type Mailer } from './mail/mailer';
import { SmtpMailer } from './mail/smtp';
import { schema } from './schema';
import { createAccountsServices } from './services';
import { sessionLifetimes } from './services/sessions';
import { createAccountsLoaders, createAccountsStorage } from './storage';

/** Users, sessions, organizations, memberships and invitations. */
export const accounts = defineSubgraph({
  name: 'accounts',
  schema,
  migrationsFolder: fileURLToPath(new URL('../../db/accounts/migrations', import.meta.url)),
  settings: accountsSettings,
  async setup({ pool, logger, events, config, settings }) {
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
    // SMTP when configured; otherwise the development mailbox (never in production).
    const mailbox =
      settings.SMTP_URL || config.NODE_ENV === 'production' ? undefined : new DevMailbox(logger);
    const mailer: Mailer | undefined = settings.SMTP_URL
      ? new SmtpMailer(settings.SMTP_URL, settings.MAIL_FROM, logger)
      : mailbox;
    if (!mailer)
      logger.warn('SMTP_URL is not set: accounts cannot send email (password resets, invitations)');
    // Made before the first request, which would otherwise pay for it (see `verifyPassword`).
    await prepareDummyHash();
    const rateLimits = await createRateLimits(settings, config.REDIS_URL, logger);
    const jobs = await createJobQueue(pool, logger);
    const outbox = await createOutbox({ jobs, source: 'accounts', config, logger });
    return {
      services: createAccountsServices({
        storage,
        accessTokens,
        encryptor,
        mailer,
        rateLimits,
        outbox,
        events,
        logger,
        settings,
        lifetimes: sessionLifetimes(settings),
      }),
      loaders: () => createAccountsLoaders(storage),
      routes: {
        '/.well-known/jwks.json': accessTokens.jwksRoute,
        ...(mailbox ? { '/dev/mailbox': mailbox.route } : {}),
      },
      async close() {
        await jobs.close();
        await rateLimits.close();
        if (mailer instanceof SmtpMailer) mailer.close();
      },
    };
  },
});
