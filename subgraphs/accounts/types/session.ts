import type { SessionRow } from '../../../db/accounts/schema';
import { builder } from '../builder';
import { UserType } from './user';

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
      resolve: (session, _, ctx) => ctx.services.sessions.isCurrent(ctx, session),
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
      resolve: (user, args, ctx) => ctx.services.sessions.ofUser(ctx, user.id, args),
    },
    { name: 'SessionConnection', description: 'A page of sessions.' },
    { name: 'SessionEdge', description: 'A session in a page of sessions.' },
  ),
}));
