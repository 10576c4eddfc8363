import { describe, expect, it } from 'vitest';
import {
  newEmail,
  PASSWORD,
  sentTo,
  signUp,
  tokenMailedTo,
  useAccounts,
} from '../../../test/support/accounts';
import type { Caller } from '../../common/caller';
import { WRONG_CREDENTIALS } from './sign-in';

const NEW_PASSWORD = 'amber-quarry-lantern-77';
const RESET_PER_EMAIL = 3;

const testbed = useAccounts({
  APP_URL: 'https://app.example.test/',
  RATE_LIMIT_PASSWORD_RESET_PER_EMAIL: String(RESET_PER_EMAIL),
});

const resets = () => testbed.services.passwordReset;

let addresses = 0;
/** An anonymous caller from an address of its own (per-address limits do not carry over). */
const anonymous = () => testbed.scope({ kind: 'anonymous', ip: `192.0.2.${++addresses}` } satisfies Caller);

const logIn = (email: string, password: string) =>
  testbed.services.signIn.logIn(anonymous(), { email, password });

describe('the password reset service', () => {
  it('mails a single-use link that sets a new password and ends every session', async () => {
    const person = await signUp(testbed);
    const requested = await resets().request(anonymous(), { email: person.email.toUpperCase() });
    expect(requested).toEqual({ success: true, userErrors: [] });
    const [mail] = sentTo(person.email);
    expect(mail?.subject).toBe('Reset your Construct password');
    expect(mail?.text).toContain('https://app.example.test/reset-password?token=');
    const token = tokenMailedTo(person.email);

    expect(await resets().reset(anonymous(), { token, password: NEW_PASSWORD })).toEqual({
      success: true,
      userErrors: [],
    });
    expect((await logIn(person.email, PASSWORD)).userErrors).toEqual([WRONG_CREDENTIALS]);
    expect((await logIn(person.email, NEW_PASSWORD)).userErrors).toEqual([]);
    // The session sign-up opened has ended.
    const refreshed = await testbed.services.sessions.refresh(anonymous(), {
      refreshToken: person.refreshToken,
    });
    expect(refreshed.userErrors).toMatchObject([{ field: ['input', 'refreshToken'] }]);

    const again = await resets().reset(anonymous(), { token, password: 'another-fine-phrase-31' });
    expect(again).toMatchObject({
      success: false,
      userErrors: [{ field: ['input', 'token'], code: 'INVALID' }],
    });
    // A spent link is refused before anything else is looked at.
    const weak = await resets().reset(anonymous(), { token, password: 'short' });
    expect(weak).toMatchObject({ success: false, userErrors: [{ field: ['input', 'token'] }] });
    expect((await logIn(person.email, NEW_PASSWORD)).userErrors).toEqual([]);
  });

  it('answers an unknown address as a known one, and mails nobody', async () => {
    const email = newEmail('nobody');
    expect(await resets().request(anonymous(), { email })).toEqual({ success: true, userErrors: [] });
    expect(sentTo(email)).toEqual([]);
  });

  it('refuses an expired link', async () => {
    const person = await signUp(testbed);
    await resets().request(anonymous(), { email: person.email });
    const token = tokenMailedTo(person.email);
    await testbed.pool.query(
      `UPDATE password_reset_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`,
      [person.user.id],
    );
    const expired = await resets().reset(anonymous(), { token, password: NEW_PASSWORD });
    expect(expired).toMatchObject({ success: false, userErrors: [{ field: ['input', 'token'] }] });
    expect((await logIn(person.email, PASSWORD)).userErrors).toEqual([]);
  });

  it('spends every link of the account when one is used', async () => {
    const person = await signUp(testbed);
    await resets().request(anonymous(), { email: person.email });
    const first = tokenMailedTo(person.email);
    await resets().request(anonymous(), { email: person.email });
    const second = tokenMailedTo(person.email);
    expect(second).not.toBe(first);
    expect((await resets().reset(anonymous(), { token: second, password: NEW_PASSWORD })).success).toBe(true);
    expect(
      (await resets().reset(anonymous(), { token: first, password: 'another-fine-phrase-31' })).success,
    ).toBe(false);
  });

  it('holds the new password to the password rules, and keeps the link for a better one', async () => {
    const person = await signUp(testbed);
    await resets().request(anonymous(), { email: person.email });
    const token = tokenMailedTo(person.email);
    const weak = await resets().reset(anonymous(), { token, password: 'short' });
    expect(weak).toMatchObject({
      success: false,
      userErrors: [{ field: ['input', 'password'], code: 'INVALID' }],
    });
    expect((await resets().reset(anonymous(), { token, password: NEW_PASSWORD })).success).toBe(true);
  });

  it('names a malformed address, and limits requests per address', async () => {
    expect(await resets().request(anonymous(), { email: 'not-an-email' })).toMatchObject({
      success: false,
      userErrors: [{ field: ['input', 'email'] }],
    });
    const email = newEmail('limited');
    for (let i = 0; i < RESET_PER_EMAIL; i++) await resets().request(anonymous(), { email });
    await expect(resets().request(anonymous(), { email })).rejects.toMatchObject({
      extensions: { code: 'RATE_LIMITED' },
    });
  });
});
