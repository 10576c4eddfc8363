import type { ServerResponse } from 'node:http';
import { SignJWT } from 'jose';
import type { SigningKeyPair } from '../../common/keys';
import type { AccountsSettings } from '../config';

/**
 * Access tokens: short-lived JWTs the gateway verifies against the JWKS below. They name the
 * user (`sub`) and the session (`sid`), nothing else: roles are looked up fresh (see
 * `_callerAccess`), so a token never carries a role someone has since lost.
 */
export interface AccessTokens {
  /** A token for this session, expiring after the configured lifetime or at `notAfter` if sooner. */
  issue(userId: string, sessionId: string, notAfter?: Date): Promise<{ token: string; expiresAt: Date }>;
  /** GET /.well-known/jwks.json */
  jwksRoute(_req: unknown, res: ServerResponse): void;
}

export function createAccessTokens(key: SigningKeyPair, config: AccountsSettings): AccessTokens {
  const jwks = JSON.stringify({ keys: [key.publicJwk] });
  return {
    async issue(userId, sessionId, notAfter) {
      const lifetimeEnd = Date.now() + config.ACCESS_TOKEN_TTL_SECONDS * 1000;
      // Whole seconds, as `exp` has them: the date returned is the token's real end.
      const expiresAt = new Date(
        Math.floor(Math.min(lifetimeEnd, notAfter?.getTime() ?? lifetimeEnd) / 1000) * 1000,
      );
      const token = await new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
        .setIssuer(config.ACCESS_TOKEN_ISSUER)
        .setAudience(config.ACCESS_TOKEN_AUDIENCE)
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(key.privateKey);
      return { token, expiresAt };
    },
    jwksRoute(_req, res) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' });
      res.end(jwks);
    },
  };
}
