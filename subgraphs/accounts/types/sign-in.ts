import { builder } from '../builder';
import { sessionPayloadType } from './session-payload';

const SignUpPayload = sessionPayloadType('SignUpPayload', 'signUp');
const LogInPayload = sessionPayloadType('LogInPayload', 'logIn');

const SignUpInput = builder.inputType('SignUpInput', {
  description: 'A new account.',
  fields: (t) => ({
    email: t.string({
      required: true,
      description: 'Email address, unique whatever its case; it is how the person signs in.',
    }),
    password: t.string({
      required: true,
      description:
        '10 to 256 characters, not containing the email address, and not a commonly used password.',
    }),
    name: t.string({ required: true, description: 'Display name, 1 to 100 characters.' }),
  }),
});

const LogInInput = builder.inputType('LogInInput', {
  description: 'Credentials to sign in with.',
  fields: (t) => ({
    email: t.string({ required: true, description: 'The account’s email address (any case).' }),
    password: t.string({ required: true, description: 'The account’s password.' }),
    otp: t.string({
      required: false,
      description:
        'With two-step sign-in on: the 6-digit code from the authenticator app, or an unused recovery code.',
    }),
  }),
});

builder.mutationFields((t) => ({
  signUp: t.field({
    type: SignUpPayload,
    description:
      'Creates an account with its personal organization, and signs it in. Rate limited per client address.',
    args: { input: t.arg({ type: SignUpInput, required: true, description: 'The account to create.' }) },
    resolve: (_, { input }, ctx) => ctx.services.signIn.signUp(ctx, input),
  }),
  logIn: t.field({
    type: LogInPayload,
    description:
      'Signs in with email and password (and a one-time code when two-step sign-in is on). Rate limited per account and per client address: over the limit, a `RATE_LIMITED` error with `extensions.retryAfterSeconds`.',
    args: { input: t.arg({ type: LogInInput, required: true, description: 'The credentials.' }) },
    resolve: (_, { input }, ctx) => ctx.services.signIn.logIn(ctx, input),
  }),
}));
