import { builder } from '../builder';
import type { ConfirmTotpPayload, DisableTotpPayload, EnrollTotpPayload } from '../services/two-factor';
import { requestPayloadType } from './payloads';
import { UserType } from './user';

builder.objectFields(UserType, (t) => ({
  twoFactorEnabled: t.boolean({
    nullable: true,
    description:
      'Whether sign-in asks for a one-time code (TOTP): visible to the user only (null for anyone else).',
    resolve: (user, _, ctx) => ctx.services.twoFactor.enabled(ctx, user),
  }),
}));

const EnrollTotpPayloadType = requestPayloadType<EnrollTotpPayload>(
  'EnrollTotpPayload',
  'The result of `enrollTotp`: what to load into an authenticator app.',
  (t) => ({
    secret: t.exposeString('secret', {
      nullable: true,
      description: 'The shared secret, base32, for typing into an authenticator app by hand.',
    }),
    otpauthUri: t.exposeString('otpauthUri', {
      nullable: true,
      description: 'The `otpauth://totp/…` URI to show as a QR code for an authenticator app to scan.',
    }),
  }),
);

const ConfirmTotpPayloadType = requestPayloadType<ConfirmTotpPayload>(
  'ConfirmTotpPayload',
  'The result of `confirmTotp`.',
  (t) => ({
    recoveryCodes: t.exposeStringList('recoveryCodes', {
      nullable: true,
      description:
        'Ten single-use codes that replace a one-time code when the authenticator is lost. Shown this once: they are stored only as hashes.',
    }),
    user: t.expose('user', {
      type: UserType,
      nullable: true,
      description: 'The user, now with two-step sign-in on.',
    }),
  }),
);

const DisableTotpPayloadType = requestPayloadType<DisableTotpPayload>(
  'DisableTotpPayload',
  'The result of `disableTotp`.',
  (t) => ({
    user: t.expose('user', {
      type: UserType,
      nullable: true,
      description: 'The user, now with two-step sign-in off.',
    }),
  }),
);

const ConfirmTotpInput = builder.inputType('ConfirmTotpInput', {
  description: 'Proof that the authenticator app has the secret.',
  fields: (t) => ({
    code: t.string({ required: true, description: 'The 6-digit code the authenticator app shows now.' }),
  }),
});

const DisableTotpInput = builder.inputType('DisableTotpInput', {
  description: 'Proof of the second factor, to turn it off.',
  fields: (t) => ({
    code: t.string({
      required: true,
      description: 'A current 6-digit code from the authenticator app, or an unused recovery code.',
    }),
  }),
});

builder.mutationFields((t) => ({
  enrollTotp: t.field({
    type: EnrollTotpPayloadType,
    authScopes: { authenticated: true },
    description:
      'Starts setting up two-step sign-in (TOTP, RFC 6238): returns a new secret, inactive until `confirmTotp`.',
    resolve: (_, __, ctx) => ctx.services.twoFactor.enroll(ctx),
  }),
  confirmTotp: t.field({
    type: ConfirmTotpPayloadType,
    authScopes: { authenticated: true },
    description:
      'Turns two-step sign-in on with a code from the authenticator app, and returns ten recovery codes (once). Rate limited per user.',
    args: { input: t.arg({ type: ConfirmTotpInput, required: true, description: 'The code.' }) },
    resolve: (_, { input }, ctx) => ctx.services.twoFactor.confirm(ctx, input),
  }),
  disableTotp: t.field({
    type: DisableTotpPayloadType,
    authScopes: { authenticated: true },
    description:
      'Turns two-step sign-in off, with a current code or a recovery code; the recovery codes are deleted. Rate limited per user.',
    args: { input: t.arg({ type: DisableTotpInput, required: true, description: 'The code.' }) },
    resolve: (_, { input }, ctx) => ctx.services.twoFactor.disable(ctx, input),
  }),
}));
