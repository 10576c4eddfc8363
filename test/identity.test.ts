import { randomBytes } from 'node:crypto';
import { hash } from '@node-rs/argon2';
import { eq } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { generateKeyPair, SignJWT } from 'jose';
import { generate } from 'otplib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memberships, organizations, sessions, users } from '../db/accounts/schema';
import { loadOrCreateKeyPair } from '../subgraphs/common/keys';
import { gatewayHeaders } from './support/credentials';
import { postGraphQL, startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * Identity through the real gateway: sign-up, sessions and refresh rotation, password reset
 * from the development mailbox, two-step sign-in, rate limits and enumeration resistance.
 * The gateway trusts X-Forwarded-For here, so each test signs in from an address of its own
 * and per-address rate limits do not leak from one test into the next.
 */

const LIMITS = {
  RATE_LIMIT_LOGIN_PER_EMAIL: 5,
  RATE_LIMIT_LOGIN_PER_IP: 12,
  RATE_LIMIT_PASSWORD_RESET_PER_EMAIL: 3,
  RATE_LIMIT_PASSWORD_RESET_PER_IP: 6,
  RATE_LIMIT_OTP_PER_USER: 12,
};

let sut: TestSupergraph;
let db: NodePgDatabase;
let client: pg.Client;

beforeAll(async () => {
  sut = await startTestSupergraph(
    { TRUST_PROXY: 'true' },
    Object.fromEntries(Object.entries(LIMITS).map(([key, value]) => [key, String(value)])),
  );
  client = new pg.Client({ connectionString: sut.databases.accounts });
  await client.connect();
  db = drizzle({ client });
});
afterAll(async () => {
  await client?.end();
  await sut?.close();
});

let addresses = 0;
/** A client address of its own (the gateway trusts X-Forwarded-For in this file). */
const newIp = () => `198.51.100.${++addresses}`;
const newEmail = (name = 'user') => `${name}-${randomBytes(4).toString('hex')}@example.test`;
const PASSWORD = 'violet-harbor-tram-42';

interface UserError {
  field: string[];
  message: string;
  code: string;
}
interface Session {
  accessToken: string | null;
  accessTokenExpiresAt: string | null;
  refreshToken: string | null;
  refreshTokenExpiresAt: string | null;
  sessionExpiresAt: string | null;
  user: { id: string; email: string | null; name: string } | null;
  userErrors: UserError[];
}
const SESSION = `accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt sessionExpiresAt
  user { id email name } userErrors { field message code }`;

function call<T = Record<string, unknown>>(
  query: string,
  variables: Record<string, unknown> = {},
  options: { token?: string | null; ip?: string } = {},
) {
  return sut.query<T>(query, variables, {
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    'x-forwarded-for': options.ip ?? '203.0.113.1',
  });
}

async function signUp(input: { email?: string; password?: string; name?: string } = {}, ip = newIp()) {
  const { body } = await call<{ signUp: Session }>(
    `mutation ($input: SignUpInput!) { signUp(input: $input) { ${SESSION} } }`,
    { input: { email: newEmail(), password: PASSWORD, name: 'Ada Lovelace', ...input } },
    { ip },
  );
  expect(body.errors).toBeUndefined();
  return body.data!.signUp;
}

async function logIn(input: { email: string; password: string; otp?: string }, ip = newIp()) {
  return call<{ logIn: Session }>(
    `mutation ($input: LogInInput!) { logIn(input: $input) { ${SESSION} } }`,
    { input },
    { ip },
  );
}

async function refresh(refreshToken: string, ip = newIp()) {
  const { body } = await call<{ refreshSession: Session }>(
    `mutation ($input: RefreshSessionInput!) { refreshSession(input: $input) { ${SESSION} } }`,
    { input: { refreshToken } },
    { ip },
  );
  expect(body.errors).toBeUndefined();
  return body.data!.refreshSession;
}

/** The viewer as this token sees it; the error code if the gateway refuses the token. */
async function viewer(token: string | null) {
  const { body } = await call<{ viewer: { id: string; email: string } | null }>(
    '{ viewer { id email } }',
    {},
    { token },
  );
  if (body.errors) return { error: body.errors[0]?.extensions?.code };
  return { viewer: body.data!.viewer };
}

async function mailbox(to: string): Promise<{ to: string; subject: string; text: string }[]> {
  const url = new URL('/dev/mailbox', sut.subgraphs.accounts.url);
  url.searchParams.set('to', to);
  return ((await (await fetch(url)).json()) as { messages: { to: string; subject: string; text: string }[] })
    .messages;
}

describe('signing up', () => {
  it('creates the account, signs it in, and gives it a personal organization it owns', async () => {
    const email = newEmail('ada');
    const session = await signUp({ email: ` ${email.toUpperCase()} `, name: 'Ada Lovelace' });
    expect(session.userErrors).toEqual([]);
    expect(session.user).toMatchObject({ id: expect.stringMatching(/^usr_/), name: 'Ada Lovelace' });
    expect(session.user!.email!.toLowerCase()).toBe(email);
    expect(session.refreshToken).toMatch(/^[\w-]{43}$/);
    const expiresIn = Date.parse(session.accessTokenExpiresAt!) - Date.now();
    expect(expiresIn).toBeGreaterThan(14 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60_000);

    expect(await viewer(session.accessToken)).toEqual({
      viewer: { id: session.user!.id, email: session.user!.email },
    });
    expect(await viewer(null)).toEqual({ viewer: null });

    const owned = await db
      .select({ slug: organizations.slug, personal: organizations.personal, role: memberships.role })
      .from(memberships)
      .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
      .where(eq(memberships.userId, session.user!.id));
    expect(owned).toEqual([{ slug: expect.stringMatching(/^ada-lovelace/), personal: true, role: 'OWNER' }]);

    // A second Ada gets a slug of her own.
    const namesake = await signUp({ name: 'Ada Lovelace' });
    const [second] = await db
      .select({ slug: organizations.slug })
      .from(memberships)
      .innerJoin(organizations, eq(organizations.id, memberships.organizationId))
      .where(eq(memberships.userId, namesake.user!.id));
    expect(second!.slug).toMatch(/^ada-lovelace(-[a-z0-9]{4})?$/);
    expect(second!.slug).not.toBe(owned[0]!.slug);
  });

  it('refuses a malformed email, weak passwords naming the rule, and a taken email in any case', async () => {
    const malformed = await signUp({ email: 'not-an-email', name: ' ' });
    expect(malformed.accessToken).toBeNull();
    expect(malformed.userErrors).toEqual([
      { field: ['input', 'email'], message: expect.stringMatching(/valid email/), code: 'INVALID' },
      { field: ['input', 'name'], message: 'Must not be blank.', code: 'INVALID' },
    ]);

    const email = newEmail('grace');
    const weak: [string, RegExp][] = [
      ['short', /at least 10 characters/],
      ['x'.repeat(257), /at most 256 characters/],
      [email.toUpperCase(), /email address/],
      [`${email.split('@')[0]}-secret!`, /email address/],
      ['Password123!', /too common/],
      ['qwertyuiop', /too common/],
    ];
    for (const [password, rule] of weak) {
      const refused = await signUp({ email, password });
      expect(refused.userErrors, password).toEqual([
        { field: ['input', 'password'], message: expect.stringMatching(rule), code: 'INVALID' },
      ]);
    }

    expect((await signUp({ email })).userErrors).toEqual([]);
    const taken = await signUp({ email: email.toUpperCase() });
    expect(taken.userErrors).toEqual([
      { field: ['input', 'email'], message: expect.stringContaining('already'), code: 'TAKEN' },
    ]);
  });
});

describe('sessions', () => {
  it('logs out: the access token is refused at once, whatever the gateway cached, and so is the refresh token', async () => {
    const session = await signUp();
    expect(await viewer(session.accessToken)).toMatchObject({ viewer: { id: session.user!.id } }); // cached now

    const { body } = await call(
      'mutation { logOut { success userErrors { code } } }',
      {},
      { token: session.accessToken },
    );
    expect(body).toEqual({ data: { logOut: { success: true, userErrors: [] } } });
    expect(await viewer(session.accessToken)).toEqual({ error: 'UNAUTHENTICATED' });
    expect((await refresh(session.refreshToken!)).userErrors).toMatchObject([
      { field: ['input', 'refreshToken'], code: 'INVALID' },
    ]);

    const anonymous = await call('mutation { logOut { success } }');
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('rotates the refresh token on every use; reusing a spent one ends the session, new tokens included', async () => {
    const first = await signUp();
    const second = await refresh(first.refreshToken!);
    expect(second.userErrors).toEqual([]);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.user!.id).toBe(first.user!.id);
    expect(second.sessionExpiresAt).toBe(first.sessionExpiresAt); // refreshing never extends a session
    const third = await refresh(second.refreshToken!);
    expect(third.userErrors).toEqual([]);
    expect(await viewer(third.accessToken)).toMatchObject({ viewer: { id: first.user!.id } });

    // The second token again: a thief, or its owner, holds a spent token.
    expect((await refresh(second.refreshToken!)).userErrors).toEqual([
      { field: ['input', 'refreshToken'], message: expect.stringContaining('already used'), code: 'INVALID' },
    ]);
    expect(await viewer(third.accessToken)).toEqual({ error: 'UNAUTHENTICATED' });
    expect((await refresh(third.refreshToken!)).userErrors).toMatchObject([{ code: 'INVALID' }]);
    const [row] = await db.select().from(sessions).where(eq(sessions.userId, first.user!.id));
    expect(row!.revokedReason).toBe('refresh token reuse');

    expect((await refresh('not a token')).userErrors).toMatchObject([{ field: ['input', 'refreshToken'] }]);
  });

  it('records the device a session was opened from, as the client’s User-Agent', async () => {
    const device = 'construct-cli/1.2.0 (linux x64)';
    const { body } = await sut.query<{ signUp: Session }>(
      `mutation ($input: SignUpInput!) { signUp(input: $input) { ${SESSION} } }`,
      { input: { email: newEmail(), password: PASSWORD, name: 'Device Owner' } },
      { 'user-agent': device, 'x-forwarded-for': newIp() },
    );
    const token = body.data!.signUp.accessToken!;
    const list = await call<{ viewer: { sessions: { edges: { node: { userAgent: string | null } }[] } } }>(
      '{ viewer { sessions(first: 10) { edges { node { userAgent } } } } }',
      {},
      { token },
    );
    expect(list.body.data!.viewer.sessions.edges.map((e) => e.node.userAgent)).toEqual([device]);
  });

  it('lists only the viewer’s own active sessions, marks the current one, and revokes one of them', async () => {
    const email = newEmail();
    const here = await signUp({ email });
    const there = (await logIn({ email, password: PASSWORD })).body.data!.logIn;
    const someoneElse = await signUp();

    type Sessions = {
      viewer: { sessions: { edges: { node: { id: string; current: boolean; ip: string } }[] } };
    };
    const list = await call<Sessions>(
      '{ viewer { sessions(first: 10) { edges { node { id current ip } } } } }',
      {},
      { token: here.accessToken },
    );
    const nodes = list.body.data!.viewer.sessions.edges.map((e) => e.node);
    expect(nodes).toHaveLength(2);
    expect(nodes.filter((n) => n.current)).toHaveLength(1);
    expect(nodes[0]!.ip).toMatch(/^198\.51\.100\./);
    const other = nodes.find((n) => !n.current)!;

    const revoke = (sessionId: string, token: string) =>
      call<{ revokeSession: { revokedSessionId: string | null; userErrors: UserError[] } }>(
        'mutation ($input: RevokeSessionInput!) { revokeSession(input: $input) { revokedSessionId userErrors { field message code } } }',
        { input: { sessionId } },
        { token },
      );
    // Not someone else's.
    const foreign = await revoke(other.id, someoneElse.accessToken!);
    expect(foreign.body.data!.revokeSession.userErrors).toMatchObject([
      { field: ['input', 'sessionId'], code: 'NOT_FOUND' },
    ]);
    expect(await viewer(there.accessToken)).toMatchObject({ viewer: { id: here.user!.id } });

    const revoked = await revoke(other.id, here.accessToken!);
    expect(revoked.body.data!.revokeSession).toEqual({ revokedSessionId: other.id, userErrors: [] });
    expect(await viewer(there.accessToken)).toEqual({ error: 'UNAUTHENTICATED' });
    expect(await viewer(here.accessToken)).toMatchObject({ viewer: { id: here.user!.id } });
  });

  it('shows email and sessions to the user, email to members of a shared organization, neither to others', async () => {
    const ada = await signUp();
    const grace = await signUp();
    const stranger = await signUp();
    // Grace joins Ada's personal organization.
    const [adaOrg] = await db
      .select({ id: memberships.organizationId })
      .from(memberships)
      .where(eq(memberships.userId, ada.user!.id));
    await db
      .insert(memberships)
      .values({ organizationId: adaOrg!.id, userId: grace.user!.id, role: 'MEMBER' });

    const asCaller = async (userId: string, orgs: Record<string, 'MEMBER'>) => {
      const { body } = await postGraphQL<{ _entities: Record<string, unknown>[] }>(
        sut.subgraphs.accounts.url,
        'query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { id name email twoFactorEnabled sessions { edges { cursor } } } } }',
        { r: [{ __typename: 'User', id: ada.user!.id }] },
        await gatewayHeaders('accounts', { kind: 'user', userId, sessionId: 'ses_x', memberships: orgs }),
      );
      return body.data!._entities[0];
    };
    expect(await asCaller(ada.user!.id, { [adaOrg!.id]: 'MEMBER' })).toMatchObject({
      email: ada.user!.email,
      twoFactorEnabled: false,
      sessions: { edges: [expect.anything()] },
    });
    expect(await asCaller(grace.user!.id, { [adaOrg!.id]: 'MEMBER' })).toMatchObject({
      name: 'Ada Lovelace',
      email: ada.user!.email,
      twoFactorEnabled: null,
      sessions: null,
    });
    expect(await asCaller(stranger.user!.id, {})).toMatchObject({
      email: null,
      twoFactorEnabled: null,
      sessions: null,
    });
  });

  it('refuses expired, tampered and foreign access tokens at the gateway with UNAUTHENTICATED', async () => {
    const session = await signUp();
    const key = await loadOrCreateKeyPair('.data/keys', 'access-token');
    const sign = (exp: number, signingKey = key.privateKey) =>
      new SignJWT({ sid: 'ses_whatever' })
        .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
        .setIssuer('construct-accounts')
        .setAudience('construct')
        .setSubject(session.user!.id)
        .setIssuedAt(exp - 900)
        .setExpirationTime(exp)
        .sign(signingKey);
    const expired = await sign(Math.floor(Date.now() / 1000) - 60);
    const [header, payload, signature] = session.accessToken!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const tampered = [
      header,
      Buffer.from(JSON.stringify({ ...claims, sub: 'usr_someone_else' })).toString('base64url'),
      signature,
    ].join('.');
    const { privateKey: foreignKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const foreign = await sign(Math.floor(Date.now() / 1000) + 600, foreignKey);

    for (const token of [expired, tampered, foreign, 'not.a.jwt']) {
      const { status, body } = await call('{ viewer { id } }', {}, { token });
      expect(body.errors?.[0]?.extensions?.code, token).toBe('UNAUTHENTICATED');
      expect(status).toBe(401);
      expect(body.data ?? null).toBeNull();
    }
  });
});

describe('password reset', () => {
  const REQUEST =
    'mutation ($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) { success userErrors { field message code } } }';
  const RESET =
    'mutation ($input: ResetPasswordInput!) { resetPassword(input: $input) { success userErrors { field message code } } }';

  it('resets from the emailed link: sessions end, the new password signs in, the link works once', async () => {
    const email = newEmail('reset');
    const session = await signUp({ email });
    expect(await viewer(session.accessToken)).toMatchObject({ viewer: { id: session.user!.id } });

    const ip = newIp();
    const requested = await call(REQUEST, { input: { email: email.toUpperCase() } }, { ip });
    expect(requested.body).toEqual({ data: { requestPasswordReset: { success: true, userErrors: [] } } });
    const [mail] = await mailbox(email);
    expect(mail!.subject).toMatch(/reset/i);
    const link = new URL(/https?:\/\/\S+/.exec(mail!.text)![0]);
    expect(link.pathname).toBe('/reset-password');
    const token = link.searchParams.get('token')!;

    const weak = await call(RESET, { input: { token, password: 'sunshine2024' } });
    expect(weak.body.data).toEqual({
      resetPassword: {
        success: false,
        userErrors: [
          { field: ['input', 'password'], message: expect.stringMatching(/too common/), code: 'INVALID' },
        ],
      },
    });

    const newPassword = 'copper-lantern-meadow-7';
    const reset = await call(RESET, { input: { token, password: newPassword } });
    expect(reset.body.data).toEqual({ resetPassword: { success: true, userErrors: [] } });
    expect(await viewer(session.accessToken)).toEqual({ error: 'UNAUTHENTICATED' });
    expect((await refresh(session.refreshToken!)).userErrors).toMatchObject([{ code: 'INVALID' }]);

    const again = await call(RESET, { input: { token, password: 'another-fine-password-9' } });
    expect(again.body.data).toMatchObject({
      resetPassword: { success: false, userErrors: [{ field: ['input', 'token'], code: 'INVALID' }] },
    });
    expect((await logIn({ email, password: PASSWORD })).body.data!.logIn.userErrors).toMatchObject([
      { code: 'INVALID' },
    ]);
    const fresh = (await logIn({ email, password: newPassword })).body.data!.logIn;
    expect(fresh.userErrors).toEqual([]);
    expect(await viewer(fresh.accessToken)).toMatchObject({ viewer: { id: session.user!.id } });
  });

  it('answers the same for an unknown address, and refuses a malformed address or token', async () => {
    const unknown = newEmail('nobody');
    const answer = await call(REQUEST, { input: { email: unknown } }, { ip: newIp() });
    expect(answer.body).toEqual({ data: { requestPasswordReset: { success: true, userErrors: [] } } });
    expect(await mailbox(unknown)).toEqual([]);

    const malformed = await call(REQUEST, { input: { email: 'nope' } }, { ip: newIp() });
    expect(malformed.body.data).toMatchObject({
      requestPasswordReset: { success: false, userErrors: [{ field: ['input', 'email'], code: 'INVALID' }] },
    });
    for (const token of ['garbage', randomBytes(32).toString('base64url')]) {
      const refused = await call(RESET, { input: { token, password: 'copper-lantern-meadow-7' } });
      expect(refused.body.data).toMatchObject({
        resetPassword: { success: false, userErrors: [{ field: ['input', 'token'], code: 'INVALID' }] },
      });
    }
  });
});

describe('two-step sign-in (TOTP)', () => {
  it('enrolls, confirms, then asks for a code at sign-in; a code works once, a recovery code once', async () => {
    const email = newEmail('totp');
    const session = await signUp({ email });
    const token = session.accessToken;
    const enrolled = await call<{
      enrollTotp: { secret: string; otpauthUri: string; userErrors: UserError[] };
    }>('mutation { enrollTotp { secret otpauthUri userErrors { code } } }', {}, { token });
    const { secret, otpauthUri } = enrolled.body.data!.enrollTotp;
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Construct:.+\?secret=[A-Z2-7]+/);
    const [stored] = await db.select().from(users).where(eq(users.id, session.user!.id));
    expect(stored!.totpSecret).not.toContain(secret); // encrypted at rest
    expect(stored!.totpEnabledAt).toBeNull();

    const CONFIRM =
      'mutation ($input: ConfirmTotpInput!) { confirmTotp(input: $input) { recoveryCodes user { twoFactorEnabled } userErrors { field code } } }';
    const wrong = await call(CONFIRM, { input: { code: '000000' } }, { token });
    expect(wrong.body.data).toMatchObject({
      confirmTotp: { userErrors: [{ field: ['input', 'code'], code: 'INVALID' }] },
    });
    const now = Math.floor(Date.now() / 1000);
    const confirmed = await call<{
      confirmTotp: { recoveryCodes: string[]; user: { twoFactorEnabled: boolean } };
    }>(CONFIRM, { input: { code: await generate({ secret, epoch: now }) } }, { token });
    const { recoveryCodes, user } = confirmed.body.data!.confirmTotp;
    expect(user.twoFactorEnabled).toBe(true);
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);

    // The password alone no longer signs in; a wrong password does not learn that.
    expect((await logIn({ email, password: 'wrong-password-123' })).body.data!.logIn.userErrors).toEqual([
      { field: ['input', 'password'], message: 'Incorrect email or password.', code: 'INVALID' },
    ]);
    expect((await logIn({ email, password: PASSWORD })).body.data!.logIn.userErrors).toEqual([
      { field: ['input', 'otp'], message: expect.stringMatching(/code/), code: 'INVALID' },
    ]);
    // The confirmation's code (its time step) is spent; the next step's code is accepted, once.
    const replayed = await logIn({ email, password: PASSWORD, otp: await generate({ secret, epoch: now }) });
    expect(replayed.body.data!.logIn.userErrors).toMatchObject([
      { field: ['input', 'otp'], code: 'INVALID' },
    ]);
    const next = await generate({ secret, epoch: now + 30 });
    const withCode = (await logIn({ email, password: PASSWORD, otp: next })).body.data!.logIn;
    expect(withCode.userErrors).toEqual([]);
    expect(await viewer(withCode.accessToken)).toMatchObject({ viewer: { id: session.user!.id } });
    expect((await logIn({ email, password: PASSWORD, otp: next })).body.data!.logIn.userErrors).toMatchObject(
      [{ field: ['input', 'otp'] }],
    );

    // A recovery code, typed loosely, works once.
    const recovery = recoveryCodes[0]!.toLowerCase().replace(/-/g, ' ');
    expect((await logIn({ email, password: PASSWORD, otp: recovery })).body.data!.logIn.userErrors).toEqual(
      [],
    );
    expect(
      (await logIn({ email, password: PASSWORD, otp: recovery })).body.data!.logIn.userErrors,
    ).toMatchObject([{ field: ['input', 'otp'] }]);

    // Turning it off takes a code too.
    const DISABLE =
      'mutation ($input: DisableTotpInput!) { disableTotp(input: $input) { user { twoFactorEnabled } userErrors { field code } } }';
    expect((await call(DISABLE, { input: { code: recoveryCodes[0] } }, { token })).body.data).toMatchObject({
      disableTotp: { user: null, userErrors: [{ field: ['input', 'code'] }] },
    });
    expect((await call(DISABLE, { input: { code: recoveryCodes[1] } }, { token })).body.data).toEqual({
      disableTotp: { user: { twoFactorEnabled: false }, userErrors: [] },
    });
    expect((await logIn({ email, password: PASSWORD })).body.data!.logIn.userErrors).toEqual([]);
  });
});

describe('rate limits', () => {
  const ALIASED = (count: number) =>
    `mutation ($input: LogInInput!) { ${Array.from({ length: count }, (_, i) => `a${i}: logIn(input: $input) { userErrors { code } }`).join(' ')} }`;

  it(`stops sign-in after ${LIMITS.RATE_LIMIT_LOGIN_PER_EMAIL} attempts per account, aliases included, with a retry-after`, async () => {
    const email = newEmail('limited');
    await signUp({ email });
    // One request, one more aliased attempt than allowed, from one address.
    const { body } = await call(
      ALIASED(LIMITS.RATE_LIMIT_LOGIN_PER_EMAIL + 1),
      {
        input: { email, password: 'wrong-password-123' },
      },
      { ip: newIp() },
    );
    expect(body.errors).toHaveLength(1);
    const [error] = body.errors!;
    expect(error!.path).toEqual([`a${LIMITS.RATE_LIMIT_LOGIN_PER_EMAIL}`]);
    expect(error!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) });
    expect(error!.extensions!.retryAfterSeconds as number).toBeGreaterThan(800);
    expect(error!.extensions!.retryAfterSeconds as number).toBeLessThanOrEqual(900);
    expect(error!.message).toMatch(/Try again in 15 minutes/);

    // The right password from another address is refused too: the account is the key.
    const locked = await logIn({ email, password: PASSWORD });
    expect(locked.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  it(`stops sign-in after ${LIMITS.RATE_LIMIT_LOGIN_PER_IP} attempts per client address, across accounts`, async () => {
    const ip = newIp();
    for (let i = 0; i < LIMITS.RATE_LIMIT_LOGIN_PER_IP; i++) {
      const attempt = await logIn({ email: newEmail('spray'), password: 'wrong-password-123' }, ip);
      expect(attempt.body.errors, `attempt ${i + 1}`).toBeUndefined();
    }
    const over = await logIn({ email: newEmail('spray'), password: 'wrong-password-123' }, ip);
    expect(over.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(over.body.errors?.[0]?.message).toMatch(/from your network/);
    expect((await logIn({ email: newEmail('spray'), password: 'x' }, newIp())).body.errors).toBeUndefined();
  });

  it(`stops password reset requests after ${LIMITS.RATE_LIMIT_PASSWORD_RESET_PER_EMAIL} per address`, async () => {
    const email = newEmail('resetlimit');
    const aliases = Array.from(
      { length: LIMITS.RATE_LIMIT_PASSWORD_RESET_PER_EMAIL + 1 },
      (_, i) => `r${i}: requestPasswordReset(input: { email: $email }) { success }`,
    ).join(' ');
    const { body } = await call(`mutation ($email: String!) { ${aliases} }`, { email }, { ip: newIp() });
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.path).toEqual([`r${LIMITS.RATE_LIMIT_PASSWORD_RESET_PER_EMAIL}`]);
    expect(body.errors![0]!.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterSeconds: expect.any(Number),
    });
  });

  it(`stops one-time code checks after ${LIMITS.RATE_LIMIT_OTP_PER_USER} per user`, async () => {
    const session = await signUp();
    const token = session.accessToken;
    await call('mutation { enrollTotp { secret } }', {}, { token });
    const aliases = Array.from(
      { length: LIMITS.RATE_LIMIT_OTP_PER_USER + 1 },
      (_, i) => `c${i}: confirmTotp(input: { code: "000000" }) { userErrors { code } }`,
    ).join(' ');
    const { body } = await call(`mutation { ${aliases} }`, {}, { token });
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.path).toEqual([`c${LIMITS.RATE_LIMIT_OTP_PER_USER}`]);
    expect(body.errors![0]!.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterSeconds: expect.any(Number),
    });
  });
});

describe('account enumeration', () => {
  it('answers an unknown email and a wrong password alike, in comparable time', async () => {
    const email = newEmail('known');
    await signUp({ email });
    const timed = async (input: { email: string; password: string }) => {
      const started = performance.now();
      const { body } = await logIn(input);
      return { body, ms: performance.now() - started };
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      const wrongPassword = await timed({ email, password: 'wrong-password-123' });
      const unknownEmail = await timed({ email: newEmail('unknown'), password: 'wrong-password-123' });
      expect(unknownEmail.body).toEqual(wrongPassword.body);
      expect(wrongPassword.body.data!.logIn.userErrors).toEqual([
        { field: ['input', 'password'], message: 'Incorrect email or password.', code: 'INVALID' },
      ]);
      known.push(wrongPassword.ms);
      unknown.push(unknownEmail.ms);
    }
    const median = (values: number[]) => values.sort((a, b) => a - b)[1]!;
    // Both verify one argon2id hash (tens of ms); a lookup alone would answer in about one.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.5);
    expect(median(known)).toBeGreaterThan(median(unknown) * 0.5);
  });
});

describe('password hashing', () => {
  it('re-hashes a password stored with older parameters at the next sign-in', async () => {
    const email = newEmail('rehash');
    const session = await signUp({ email });
    const weaker = await hash(PASSWORD, {
      memoryCost: 4096,
      timeCost: 1,
      parallelism: 1,
      algorithm: 2 as never,
    });
    await db.update(users).set({ passwordHash: weaker }).where(eq(users.id, session.user!.id));

    expect((await logIn({ email, password: PASSWORD })).body.data!.logIn.userErrors).toEqual([]);
    const [row] = await db.select().from(users).where(eq(users.id, session.user!.id));
    expect(row!.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });
});
