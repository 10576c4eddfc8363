import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import { newTotpSecret, totpUri, verifyTotp } from './totp';

describe('TOTP', () => {
  const secret = newTotpSecret();
  const now = 1_800_000_000_000; // a step boundary: 60,000,000 × 30 s
  const step = now / 1000 / 30;
  const codeAt = (offsetSteps: number) => generate({ secret, epoch: now / 1000 + offsetSteps * 30 });

  it('accepts the current code and one step either side, and names the step', async () => {
    expect(await verifyTotp(secret, await codeAt(0), null, now)).toBe(step);
    expect(await verifyTotp(secret, await codeAt(-1), null, now)).toBe(step - 1);
    expect(await verifyTotp(secret, await codeAt(1), null, now)).toBe(step + 1);
    expect(await verifyTotp(secret, await codeAt(-2), null, now)).toBeNull();
    expect(await verifyTotp(secret, await codeAt(2), null, now)).toBeNull();
  });

  it('refuses a code of a step already accepted, and malformed codes without throwing', async () => {
    expect(await verifyTotp(secret, await codeAt(0), step, now)).toBeNull();
    expect(await verifyTotp(secret, await codeAt(-1), step, now)).toBeNull();
    expect(await verifyTotp(secret, await codeAt(1), step, now)).toBe(step + 1);
    for (const code of ['', '12345', '1234567', 'abcdef'])
      expect(await verifyTotp(secret, code, null, now)).toBeNull();
  });

  it('describes the account for authenticator apps', () => {
    expect(totpUri(secret, 'Construct', 'ada@example.com')).toBe(
      `otpauth://totp/Construct:ada%40example.com?secret=${secret}&issuer=Construct`,
    );
  });
});
