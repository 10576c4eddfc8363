import { builder } from '../builder';
import type { LogOutPayload, RevokeSessionPayload } from '../services/sessions';
import { requestPayloadType } from './payloads';
import { sessionPayloadType } from './session-payload';

const RefreshSessionPayload = sessionPayloadType('RefreshSessionPayload', 'refreshSession');

const RefreshSessionInput = builder.inputType('RefreshSessionInput', {
  description: 'The refresh token to spend.',
  fields: (t) => ({
    refreshToken: t.string({
      required: true,
      description: 'The latest refresh token this session was given.',
    }),
  }),
});

const LogOutPayloadType = requestPayloadType<LogOutPayload>(
  'LogOutPayload',
  'The result of `logOut`.',
  (t) => ({
    success: t.exposeBoolean('success', { description: 'Whether the session has ended.' }),
  }),
);

const RevokeSessionInput = builder.inputType('RevokeSessionInput', {
  description: 'The session to end.',
  fields: (t) => ({
    sessionId: t.id({ required: true, description: 'One of your sessions (`User.sessions`).' }),
  }),
});

const RevokeSessionPayloadType = requestPayloadType<RevokeSessionPayload>(
  'RevokeSessionPayload',
  'The result of `revokeSession`.',
  (t) => ({
    revokedSessionId: t.exposeID('revokedSessionId', {
      nullable: true,
      description: 'The session that ended; null if refused.',
    }),
  }),
);

builder.mutationFields((t) => ({
  refreshSession: t.field({
    type: RefreshSessionPayload,
    description:
      'Trades a refresh token for a new access token and a new refresh token. A refresh token works once: presenting it again ends its session.',
    args: {
      input: t.arg({ type: RefreshSessionInput, required: true, description: 'The refresh token.' }),
    },
    resolve: (_, { input }, ctx) => ctx.services.sessions.refresh(ctx, input),
  }),
  logOut: t.field({
    type: LogOutPayloadType,
    authScopes: { authenticated: true },
    description:
      'Ends the caller’s current session: its refresh token and access token stop working at once.',
    resolve: (_, __, ctx) => ctx.services.sessions.logOut(ctx),
  }),
  revokeSession: t.field({
    type: RevokeSessionPayloadType,
    authScopes: { authenticated: true },
    description:
      'Ends one of your sessions (a lost device, say): its refresh token and access token stop working at once.',
    args: { input: t.arg({ type: RevokeSessionInput, required: true, description: 'The session to end.' }) },
    resolve: (_, { input }, ctx) => ctx.services.sessions.revoke(ctx, input),
  }),
}));
