import { builder } from '../../builder';
import { UserType } from '../../types/user';
import { UserErrorType } from '../../types/user-error';
import {
  type ConfirmTotpPayload,
  confirmTotp,
  type DisableTotpPayload,
  disableTotp,
  type EnrollTotpPayload,
  enrollTotp,
} from '../services/two-factor';

const userErrors = {
  type: [UserErrorType] as [typeof UserErrorType],
  description: 'Why the request was refused; empty on success.',
};

const EnrollTotpPayloadType = builder.objectRef<EnrollTotpPayload>('EnrollTotpPayload').implement({
  description: 'The result of `enrollTotp`: what to load into an authenticator app.',
  fields: (t) => ({
    secret: t.exposeString('secret', {
      nullable: true,
      description: 'The shared secret, base32, for typing into an authenticator app by hand.',
    }),
    otpauthUri: t.exposeString('otpauthUri', {
      nullable: true,
      description: 'The `otpauth://totp/…` URI to show as a QR code for an authenticator app to scan.',
    }),
    userErrors: t.expose('userErrors', userErrors),
  }),
});

const ConfirmTotpPayloadType = builder.objectRef<ConfirmTotpPayload>('ConfirmTotpPayload').implement({
  description: 'The result of `confirmTotp`.',
  fields: (t) => ({
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
    userErrors: t.expose('userErrors', userErrors),
  }),
});

const DisableTotpPayloadType = builder.objectRef<DisableTotpPayload>('DisableTotpPayload').implement({
  description: 'The result of `disableTotp`.',
  fields: (t) => ({
    user: t.expose('user', {
      type: UserType,
      nullable: true,
      description: 'The user, now with two-step sign-in off.',
    }),
    userErrors: t.expose('userErrors', userErrors),
  }),
});

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
    resolve: (_, __, ctx) => enrollTotp(ctx),
  }),
  confirmTotp: t.field({
    type: ConfirmTotpPayloadType,
    authScopes: { authenticated: true },
    description:
      'Turns two-step sign-in on with a code from the authenticator app, and returns ten recovery codes (once). Rate limited per user.',
    args: { input: t.arg({ type: ConfirmTotpInput, required: true, description: 'The code.' }) },
    resolve: (_, { input }, ctx) => confirmTotp(ctx, input),
  }),
  disableTotp: t.field({
    type: DisableTotpPayloadType,
    authScopes: { authenticated: true },
    description:
      'Turns two-step sign-in off, with a current code or a recovery code; the recovery codes are deleted. Rate limited per user.',
    args: { input: t.arg({ type: DisableTotpInput, required: true, description: 'The code.' }) },
    resolve: (_, { input }, ctx) => disableTotp(ctx, input),
  }),
}));
