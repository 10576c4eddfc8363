import type { SessionPayload } from '../services/sessions';
import { requestPayloadType } from './payloads';
import { UserType } from './user';

/** signUp, logIn and refreshSession answer the same shape, each under its own name. */
export const sessionPayloadType = (name: string, mutation: string) =>
  requestPayloadType<SessionPayload>(
    name,
    `The result of \`${mutation}\`: a signed-in session, or why there is none.`,
    (t) => ({
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
    }),
  );
