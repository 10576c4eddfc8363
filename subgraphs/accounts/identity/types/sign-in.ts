import { builder } from '../../builder';
import { UserType } from '../../types/user';
import { UserErrorType } from '../../types/user-error';
import { type LogOutPayload, logOut, refreshSession } from '../services/sessions';
import type { SessionPayload } from '../services/shared';
import { logIn, signUp } from '../services/sign-in';

/** signUp, logIn and refreshSession answer the same shape, each under its own name. */
function sessionPayloadType(name: string, mutation: string) {
  return builder.objectRef<SessionPayload>(name).implement({
    description: `The result of \`${mutation}\`: a signed-in session, or why there is none.`,
    fields: (t) => ({
      accessToken: t.exposeString('accessToken', {
        nullable: true,
        description:
          'A short-lived bearer token (JWT, at most 15 minutes) for `Authorization: Bearer …`; null if refused.',
      }),
      accessTokenExpiresAt: t.expose('accessTokenExpiresAt', {
        type: 'DateTime',
        nullable: true,
        description: 'When the access token stops working: refresh the session before then.',
      }),
      refreshToken: t.exposeString('refreshToken', {
        nullable: true,
        description:
          'A single-use secret for `refreshSession`; keep it private. Each use returns a new one, and presenting a used one ends the session.',
      }),
      refreshTokenExpiresAt: t.expose('refreshTokenExpiresAt', {
        type: 'DateTime',
        nullable: true,
        description: 'When the refresh token expires if unused (the session’s idle timeout).',
      }),
      sessionExpiresAt: t.expose('sessionExpiresAt', {
        type: 'DateTime',
        nullable: true,
        description: 'When the session ends whatever happens: refreshing never extends it past this.',
      }),
      user: t.expose('user', {
        type: UserType,
        nullable: true,
        description: 'The signed-in user; null if refused.',
      }),
      userErrors: t.expose('userErrors', {
        type: [UserErrorType],
        description: 'Why the request was refused; empty on success.',
      }),
    }),
  });
}

const SignUpPayload = sessionPayloadType('SignUpPayload', 'signUp');
const LogInPayload = sessionPayloadType('LogInPayload', 'logIn');
const RefreshSessionPayload = sessionPayloadType('RefreshSessionPayload', 'refreshSession');

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

const RefreshSessionInput = builder.inputType('RefreshSessionInput', {
  description: 'The refresh token to spend.',
  fields: (t) => ({
    refreshToken: t.string({
      required: true,
      description: 'The latest refresh token this session was given.',
    }),
  }),
});

const LogOutPayloadType = builder.objectRef<LogOutPayload>('LogOutPayload').implement({
  description: 'The result of `logOut`.',
  fields: (t) => ({
    success: t.exposeBoolean('success', { description: 'Whether the session has ended.' }),
    userErrors: t.expose('userErrors', {
      type: [UserErrorType],
      description: 'Why the request was refused; empty on success.',
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: UserType,
    nullable: true,
    description: 'The signed-in user; null for an anonymous caller.',
    resolve: (_, __, ctx) => (ctx.caller.kind === 'user' ? ctx.loaders.user.load(ctx.caller.userId) : null),
  }),
}));

builder.mutationFields((t) => ({
  signUp: t.field({
    type: SignUpPayload,
    description:
      'Creates an account with its personal organization, and signs it in. Rate limited per client address.',
    args: { input: t.arg({ type: SignUpInput, required: true, description: 'The account to create.' }) },
    resolve: (_, { input }, ctx) => signUp(ctx, input),
  }),
  logIn: t.field({
    type: LogInPayload,
    description:
      'Signs in with email and password (and a one-time code when two-step sign-in is on). Rate limited per account and per client address: over the limit, a `RATE_LIMITED` error with `extensions.retryAfterSeconds`.',
    args: { input: t.arg({ type: LogInInput, required: true, description: 'The credentials.' }) },
    resolve: (_, { input }, ctx) => logIn(ctx, input),
  }),
  refreshSession: t.field({
    type: RefreshSessionPayload,
    description:
      'Trades a refresh token for a new access token and a new refresh token. A refresh token works once: presenting it again ends its session.',
    args: {
      input: t.arg({ type: RefreshSessionInput, required: true, description: 'The refresh token.' }),
    },
    resolve: (_, { input }, ctx) => refreshSession(ctx, input),
  }),
  logOut: t.field({
    type: LogOutPayloadType,
    authScopes: { authenticated: true },
    description:
      'Ends the caller’s current session: its refresh token and access token stop working at once.',
    resolve: (_, __, ctx) => logOut(ctx),
  }),
}));
