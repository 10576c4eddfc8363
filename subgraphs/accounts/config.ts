import { z } from 'zod';

/** Accounts' own settings, read from the same environment as the kit's (see .env.example). */
const schema = z.object({
  /** Ed25519 private JWK that signs access tokens; development keeps one under KEYS_DIR. */
  ACCESS_TOKEN_PRIVATE_KEY: z.string().optional(),
  ACCESS_TOKEN_ISSUER: z.string().default('construct-accounts'),
  ACCESS_TOKEN_AUDIENCE: z.string().default('construct'),
  /** At most 15 minutes: an access token cannot be revoked, only outlived. */
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(900).default(900),
  /** A session's absolute lifetime; refreshing never extends it past this. */
  SESSION_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** 32 random bytes, base64: encrypts TOTP secrets at rest. Development keeps one under KEYS_DIR. */
  ACCOUNTS_ENCRYPTION_KEY: z.string().optional(),
  /** smtp(s)://user:pass@host:port to send email; unset: the development mailbox. */
  SMTP_URL: z.url().optional(),
  MAIL_FROM: z.string().default('Construct <no-reply@construct.local>'),
  /** Where links in emails point (password reset, invitations). */
  APP_URL: z.url().default('http://localhost:3000'),
});

export type AccountsConfig = z.infer<typeof schema>;

export function loadAccountsConfig(env: NodeJS.ProcessEnv, production: boolean): AccountsConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `Invalid environment for subgraph accounts:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  if (production) {
    for (const key of ['ACCESS_TOKEN_PRIVATE_KEY', 'ACCOUNTS_ENCRYPTION_KEY'] as const) {
      if (!parsed.data[key])
        throw new Error(`Invalid environment for subgraph accounts:\n  ${key}: required in production`);
    }
  }
  return parsed.data;
}
