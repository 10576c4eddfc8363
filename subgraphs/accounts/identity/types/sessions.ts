import type { SessionRow } from '../../../../db/accounts/schema';
import { keysetConnection } from '../../../common/pagination';
import { builder } from '../../builder';
import { isSelf, UserType } from '../../types/user';
import { UserErrorType } from '../../types/user-error';
import { type RevokeSessionPayload, revokeSession } from '../services/sessions';

const SessionType = builder.objectRef<SessionRow>('Session').implement({
  description: 'A signed-in device or client of a user: what a refresh token keeps alive.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`ses_…`).' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user signed in.' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      description: 'When the session was last signed in or refreshed.',
    }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      description: 'When the session ends at the latest, however often it is refreshed.',
    }),
    userAgent: t.exposeString('userAgent', {
      nullable: true,
      description: 'The client’s user agent, when known.',
    }),
    ip: t.exposeString('ip', {
      nullable: true,
      description: 'The client address of the last sign-in or refresh, as the gateway saw it.',
    }),
    current: t.boolean({
      description: 'Whether this is the session of the request asking.',
      resolve: (session, _, ctx) =>
        (ctx.caller.kind === 'user' && ctx.caller.sessionId === session.id) ||
        ctx.identity.signedIn.get(session.userId) === session.id,
    }),
  }),
});

builder.objectFields(UserType, (t) => ({
  sessions: t.connection(
    {
      type: SessionType,
      nullable: true,
      description:
        'The user’s active sessions, oldest first: visible to the user only (null for anyone else).',
      resolve: (user, args, ctx) =>
        isSelf(ctx, user.id)
          ? keysetConnection(args, (page) => ctx.identity.store.activeSessions(user.id, page))
          : null,
    },
    { name: 'SessionConnection', description: 'A page of sessions.' },
    { name: 'SessionEdge', description: 'A session in a page of sessions.' },
  ),
  twoFactorEnabled: t.boolean({
    nullable: true,
    description:
      'Whether sign-in asks for a one-time code (TOTP): visible to the user only (null for anyone else).',
    resolve: (user, _, ctx) => (isSelf(ctx, user.id) ? user.totpEnabledAt !== null : null),
  }),
}));

const RevokeSessionInput = builder.inputType('RevokeSessionInput', {
  description: 'The session to end.',
  fields: (t) => ({
    sessionId: t.id({ required: true, description: 'One of your sessions (`User.sessions`).' }),
  }),
});

const RevokeSessionPayloadType = builder.objectRef<RevokeSessionPayload>('RevokeSessionPayload').implement({
  description: 'The result of `revokeSession`.',
  fields: (t) => ({
    revokedSessionId: t.exposeID('revokedSessionId', {
      nullable: true,
      description: 'The session that ended; null if refused.',
    }),
    userErrors: t.expose('userErrors', {
      type: [UserErrorType],
      description: 'Why the request was refused; empty on success.',
    }),
  }),
});

builder.mutationFields((t) => ({
  revokeSession: t.field({
    type: RevokeSessionPayloadType,
    authScopes: { authenticated: true },
    description:
      'Ends one of your sessions (a lost device, say): its refresh token and access token stop working at once.',
    args: { input: t.arg({ type: RevokeSessionInput, required: true, description: 'The session to end.' }) },
    resolve: (_, { input }, ctx) => revokeSession(ctx, { sessionId: String(input.sessionId) }),
  }),
}));
