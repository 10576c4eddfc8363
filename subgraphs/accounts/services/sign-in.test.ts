import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import { newEmail, PASSWORD, signUp, useAccounts } from '../../../test/support/accounts';
import { anonymousCaller } from '../../../test/support/services';
import type { Caller } from '../../common/caller';
import { OTP_REQUIRED, OTP_WRONG, WRONG_CREDENTIALS } from './sign-in';

const LOGIN_PER_EMAIL = 5;

const testbed = useAccounts({ RATE_LIMIT_LOGIN_PER_EMAIL: String(LOGIN_PER_EMAIL) });

const signIn = () => testbed.services.signIn;
const anonymous = () => testbed.scope(anonymousCaller);

let addresses = 0;
/** A client address of its own, so per-address limits do not carry from one test to the next. */
const fromNewAddress = (): Caller => ({ kind: 'anonymous', ip: `198.51.100.${++addresses}` });

describe('signing up', () => {
  it('creates the user with a personal organization they own, and signs them in', async () => {
    const scope = anonymous();
    const email = newEmail('ada');
    const payload = await signIn().signUp(scope, {
      email: `  ${email}  `,
      password: PASSWORD,
      name: 'Zoë Ñúñez',
    });
    expect(payload.userErrors).toEqual([]);
    expect(payload.user).toMatchObject({ email, name: 'Zoë Ñúñez' });
    expect(payload.accessToken).toEqual(expect.any(String));
    expect(payload.refreshToken).toEqual(expect.any(String));

    const { rows } = await testbed.pool.query(
      `SELECT o.slug, o.personal, m.role FROM memberships m JOIN organizations o ON o.id = m.organization_id
        WHERE m.user_id = $1`,
      [payload.user!.id],
    );
    expect(rows).toMatchObject([
      { personal: true, role: 'OWNER', slug: expect.stringMatching(/^zoe-nunez/) },
    ]);
    // The request that signed up reads the new user as its own: their email, their sessions.
    expect(await testbed.services.users.email(scope, payload.user!)).toBe(email);
    expect(await testbed.services.users.email(anonymous(), payload.user!)).toBeNull();
  });

  it('names each field at fault, in input order, and creates nothing', async () => {
    const payload = await signIn().signUp(anonymous(), {
      email: 'not-an-email',
      password: 'short',
      name: ' ',
    });
    expect(payload.user).toBeNull();
    expect(payload.accessToken).toBeNull();
    expect(payload.userErrors.map((error) => error.field)).toEqual([
      ['input', 'email'],
      ['input', 'password'],
      ['input', 'name'],
    ]);
    expect(payload.userErrors.every((error) => error.code === 'INVALID')).toBe(true);

    const common = await signIn().signUp(anonymous(), {
      email: newEmail(),
      password: 'Password123!',
      name: 'Ada',
    });
    expect(common.userErrors).toMatchObject([
      { field: ['input', 'password'], message: expect.stringMatching(/common/) },
    ]);
  });

  it('refuses an email already used, whatever its case', async () => {
    const { email } = await signUp(testbed);
    const again = await signIn().signUp(anonymous(), {
      email: email.toUpperCase(),
      password: PASSWORD,
      name: 'Eve',
    });
    expect(again.user).toBeNull();
    expect(again.userErrors).toMatchObject([{ field: ['input', 'email'], code: 'TAKEN' }]);
    const { rows } = await testbed.pool.query(
      'SELECT count(*)::int AS n FROM users WHERE lower(email) = $1',
      [email],
    );
    expect(rows[0].n).toBe(1);
  });
});

describe('logging in', () => {
  it('opens a session with the right password, in any case of the email', async () => {
    const person = await signUp(testbed);
    const session = await signIn().logIn(testbed.scope(fromNewAddress()), {
      email: person.email.toUpperCase(),
      password: PASSWORD,
    });
    expect(session.userErrors).toEqual([]);
    expect(session.user?.id).toBe(person.user.id);
    expect(session.accessToken).toEqual(expect.any(String));
    expect(session.refreshToken).not.toBe(person.refreshToken);
  });

  it('answers a wrong password and an unknown email alike', async () => {
    const person = await signUp(testbed);
    const wrongPassword = await signIn().logIn(testbed.scope(fromNewAddress()), {
      email: person.email,
      password: 'not-the-password-at-all',
    });
    const unknownEmail = await signIn().logIn(testbed.scope(fromNewAddress()), {
      email: newEmail('nobody'),
      password: PASSWORD,
    });
    expect(wrongPassword).toEqual(unknownEmail);
    expect(wrongPassword.userErrors).toEqual([WRONG_CREDENTIALS]);
    expect(wrongPassword.accessToken).toBeNull();
  });

  it('asks for a second factor once two-step sign-in is on, and only after the right password', async () => {
    const person = await signUp(testbed);
    const scope = testbed.scope(person.caller());
    const { secret } = await testbed.services.twoFactor.enroll(scope);
    const now = Math.floor(Date.now() / 1000);
    const confirmed = await testbed.services.twoFactor.confirm(scope, {
      code: await generate({ secret: secret!, epoch: now }),
    });
    expect(confirmed.userErrors).toEqual([]);

    const logIn = (otp?: string, password = PASSWORD) =>
      signIn().logIn(testbed.scope(fromNewAddress()), { email: person.email, password, otp });
    expect((await logIn(undefined, 'not-the-password-at-all')).userErrors).toEqual([WRONG_CREDENTIALS]);
    expect((await logIn()).userErrors).toEqual([OTP_REQUIRED]);
    expect((await logIn('123456')).userErrors).toEqual([OTP_WRONG]);
    const withCode = await logIn(await generate({ secret: secret!, epoch: now + 30 }));
    expect(withCode.userErrors).toEqual([]);
    expect(withCode.accessToken).toEqual(expect.any(String));
    // A recovery code stands in for the app, once.
    const recovery = confirmed.recoveryCodes![0]!;
    expect((await logIn(recovery.toLowerCase())).userErrors).toEqual([]);
    expect((await logIn(recovery)).userErrors).toEqual([OTP_WRONG]);
  });

  it(`refuses a ${LOGIN_PER_EMAIL + 1}th attempt at one account within the window, from any address`, async () => {
    const person = await signUp(testbed);
    for (let attempt = 0; attempt < LOGIN_PER_EMAIL; attempt++) {
      const refused = await signIn().logIn(testbed.scope(fromNewAddress()), {
        email: person.email,
        password: 'not-the-password-at-all',
      });
      expect(refused.userErrors).toEqual([WRONG_CREDENTIALS]);
    }
    await expect(
      signIn().logIn(testbed.scope(fromNewAddress()), {
        email: person.email.toUpperCase(),
        password: PASSWORD,
      }),
    ).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED', retryAfterSeconds: expect.any(Number) } });
    // Another account is counted apart.
    const other = await signUp(testbed);
    const session = await signIn().logIn(testbed.scope(fromNewAddress()), {
      email: other.email,
      password: PASSWORD,
    });
    expect(session.userErrors).toEqual([]);
  });

  it('forgets the failed attempts of an account once it signs in', async () => {
    const person = await signUp(testbed);
    const attempt = (password: string) =>
      signIn().logIn(testbed.scope(fromNewAddress()), { email: person.email, password });
    for (let i = 0; i < LOGIN_PER_EMAIL - 1; i++) await attempt('not-the-password-at-all');
    expect((await attempt(PASSWORD)).userErrors).toEqual([]);
    for (let i = 0; i < LOGIN_PER_EMAIL - 1; i++) await attempt('not-the-password-at-all');
    expect((await attempt(PASSWORD)).userErrors).toEqual([]);
  });
});
