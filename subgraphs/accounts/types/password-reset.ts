import { builder } from '../builder';
import type { PasswordResetPayload } from '../services/password-reset';
import { requestPayloadType } from './payloads';

const passwordResetPayload = (name: string, mutation: string, success: string) =>
  requestPayloadType<PasswordResetPayload>(name, `The result of \`${mutation}\`.`, (t) => ({
    success: t.exposeBoolean('success', { description: success }),
  }));

const RequestPasswordResetPayload = passwordResetPayload(
  'RequestPasswordResetPayload',
  'requestPasswordReset',
  'Whether the request was taken. It says nothing about the address: if an account uses it, a link is on its way.',
);
const ResetPasswordPayload = passwordResetPayload(
  'ResetPasswordPayload',
  'resetPassword',
  'Whether the password was changed (and every session of the account ended).',
);

const RequestPasswordResetInput = builder.inputType('RequestPasswordResetInput', {
  description: 'Who forgot their password.',
  fields: (t) => ({
    email: t.string({ required: true, description: 'The account’s email address.' }),
  }),
});

const ResetPasswordInput = builder.inputType('ResetPasswordInput', {
  description: 'A new password, with the token from the reset email.',
  fields: (t) => ({
    token: t.string({ required: true, description: 'The `token` parameter of the emailed link.' }),
    password: t.string({
      required: true,
      description:
        'The new password: 10 to 256 characters, not containing the email address, and not a commonly used password.',
    }),
  }),
});

builder.mutationFields((t) => ({
  requestPasswordReset: t.field({
    type: RequestPasswordResetPayload,
    description:
      'Emails a single-use link to reset the password (valid one hour) if an account uses this address; answers the same either way. Rate limited per address and per client address.',
    args: {
      input: t.arg({ type: RequestPasswordResetInput, required: true, description: 'The address.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.passwordReset.request(ctx, input),
  }),
  resetPassword: t.field({
    type: ResetPasswordPayload,
    description:
      'Sets a new password with the token of a reset email. The token is spent, and every session of the account ends.',
    args: {
      input: t.arg({ type: ResetPasswordInput, required: true, description: 'The token and new password.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.passwordReset.reset(ctx, input),
  }),
}));
