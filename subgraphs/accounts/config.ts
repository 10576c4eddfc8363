import { z } from 'zod';
import { defineSettings } from '../common/config';

/** Accounts' own settings, read from the same environment as the kit's (see .env.example). */
export const accountsSettings = defineSettings(
  'subgraph accounts',
  {
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
    /**
     * A refresh token unused for this long expires: the session's idle timeout. Never past the
     * session's absolute end (SESSION_TTL_DAYS).
     */
    REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(14),
    /** How long a password reset link works. */
    PASSWORD_RESET_TTL_MINUTES: z.coerce.number().int().min(5).max(1440).default(60),
    /** The issuer an authenticator app shows next to the account (otpauth:// URI). */
    TOTP_ISSUER: z.string().min(1).default('Construct'),
    /**
     * Rate limits, counted per resolver call (an aliased field is one more attempt), in Redis
     * when REDIS_URL is set (shared by replicas), in memory otherwise. `…_WINDOW_SECONDS` is
     * the window each count runs over.
     */
    RATE_LIMIT_LOGIN_PER_EMAIL: z.coerce.number().int().min(1).default(10),
    RATE_LIMIT_LOGIN_PER_IP: z.coerce.number().int().min(1).default(50),
    RATE_LIMIT_LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
    RATE_LIMIT_PASSWORD_RESET_PER_EMAIL: z.coerce.number().int().min(1).default(5),
    RATE_LIMIT_PASSWORD_RESET_PER_IP: z.coerce.number().int().min(1).default(20),
    RATE_LIMIT_PASSWORD_RESET_WINDOW_SECONDS: z.coerce.number().int().min(1).default(3600),
    RATE_LIMIT_OTP_PER_USER: z.coerce.number().int().min(1).default(10),
    RATE_LIMIT_OTP_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
    RATE_LIMIT_SIGNUP_PER_IP: z.coerce.number().int().min(1).default(100),
    RATE_LIMIT_SIGNUP_WINDOW_SECONDS: z.coerce.number().int().min(1).default(3600),
    /** Prefix of the rate-limit keys in Redis (one per deployment sharing a Redis). */
    RATE_LIMIT_KEY_PREFIX: z.string().min(1).default('construct:accounts:rl'),
  },
  (values, rules) => {
    // Development makes both under KEYS_DIR; in production a restart must not lose them.
    rules.requiredInProduction('ACCESS_TOKEN_PRIVATE_KEY', 'ACCOUNTS_ENCRYPTION_KEY');
    return values;
  },
);

export type AccountsSettings = ReturnType<typeof accountsSettings.parse>;
