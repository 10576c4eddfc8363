import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import { type Person, signUp, useAccounts } from '../../../test/support/accounts';
import { anonymousCaller } from '../../../test/support/services';

const testbed = useAccounts({ TOTP_ISSUER: 'Construct Test' });

const twoFactor = () => testbed.services.twoFactor;
const now = () => Math.floor(Date.now() / 1000);

async function stored(userId: string) {
  const { rows } = await testbed.pool.query(
    `SELECT totp_secret, totp_enabled_at, (SELECT count(*)::int FROM recovery_codes r WHERE r.user_id = u.id) AS codes
       FROM users u WHERE id = $1`,
    [userId],
  );
  return rows[0] as { totp_secret: string | null; totp_enabled_at: Date | null; codes: number };
}

/** Enrolls and confirms two-step sign-in; the time it confirmed at, and the recovery codes. */
async function turnOn(person: Person) {
  const scope = testbed.scope(person.caller());
  const { secret } = await twoFactor().enroll(scope);
  const at = now();
  const confirmed = await twoFactor().confirm(scope, {
    code: await generate({ secret: secret!, epoch: at }),
  });
  expect(confirmed.userErrors).toEqual([]);
  return { scope, secret: secret!, at, recoveryCodes: confirmed.recoveryCodes! };
}

describe('the two-factor service', () => {
  it('enrolls with a secret kept encrypted, off until a code confirms it', async () => {
    const person = await signUp(testbed);
    const scope = testbed.scope(person.caller());
    const enrolled = await twoFactor().enroll(scope);
    expect(enrolled.userErrors).toEqual([]);
    expect(enrolled.otpauthUri).toMatch(/^otpauth:\/\/totp\/Construct%20Test:.+\?secret=[A-Z2-7]+/);
    const pending = await stored(person.user.id);
    expect(pending.totp_secret).not.toContain(enrolled.secret);
    expect(pending.totp_enabled_at).toBeNull();
    expect(twoFactor().enabled(scope, (await testbed.services.users.viewer(scope))!)).toBe(false);

    const wrong = await twoFactor().confirm(scope, { code: '000000' });
    expect(wrong).toMatchObject({
      recoveryCodes: null,
      userErrors: [{ field: ['input', 'code'], code: 'INVALID' }],
    });
    expect((await stored(person.user.id)).totp_enabled_at).toBeNull();

    const confirmed = await twoFactor().confirm(scope, {
      code: await generate({ secret: enrolled.secret!, epoch: now() }),
    });
    expect(confirmed.userErrors).toEqual([]);
    expect(confirmed.recoveryCodes).toHaveLength(10);
    expect(new Set(confirmed.recoveryCodes).size).toBe(10);
    expect(twoFactor().enabled(scope, confirmed.user!)).toBe(true);
    expect(await stored(person.user.id)).toMatchObject({ totp_enabled_at: expect.any(Date), codes: 10 });
    // Only its user learns whether it is on.
    expect(twoFactor().enabled(testbed.scope(anonymousCaller), confirmed.user!)).toBeNull();
  });

  it('refuses to confirm before enrolling, and to enroll again once on', async () => {
    const person = await signUp(testbed);
    const scope = testbed.scope(person.caller());
    expect((await twoFactor().confirm(scope, { code: '123456' })).userErrors).toMatchObject([
      { code: 'CONFLICT' },
    ]);
    await turnOn(person);
    expect((await twoFactor().enroll(scope)).userErrors).toMatchObject([{ code: 'CONFLICT' }]);
    expect((await twoFactor().confirm(scope, { code: '123456' })).userErrors).toMatchObject([
      { code: 'CONFLICT' },
    ]);
  });

  it('turns off with a current code, never with one already used, and deletes the recovery codes', async () => {
    const person = await signUp(testbed);
    const { scope, secret, at } = await turnOn(person);
    const replayed = await twoFactor().disable(scope, { code: await generate({ secret, epoch: at }) });
    expect(replayed).toMatchObject({ user: null, userErrors: [{ field: ['input', 'code'] }] });

    const off = await twoFactor().disable(scope, { code: await generate({ secret, epoch: at + 30 }) });
    expect(off.userErrors).toEqual([]);
    expect(off.user?.totpEnabledAt).toBeNull();
    expect(await stored(person.user.id)).toMatchObject({
      totp_secret: null,
      totp_enabled_at: null,
      codes: 0,
    });
    expect((await twoFactor().disable(scope, { code: '123456' })).userErrors).toMatchObject([
      { code: 'CONFLICT' },
    ]);
  });

  it('turns off with a recovery code instead', async () => {
    const person = await signUp(testbed);
    const { scope, recoveryCodes } = await turnOn(person);
    const off = await twoFactor().disable(scope, { code: ` ${recoveryCodes[3]!.toLowerCase()} ` });
    expect(off.userErrors).toEqual([]);
    expect(off.user?.totpEnabledAt).toBeNull();
  });

  it('is only for a signed-in person', async () => {
    await expect(twoFactor().enroll(testbed.scope(anonymousCaller))).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });
});
