import { jwtVerify, SignJWT } from 'jose';
import type { Caller } from './caller';
import type { SigningKeyPair } from './keys';

/**
 * The gateway credential: a short-lived token, signed with the gateway's private key, that
 * says who the caller is and which subgraph it is for (`aud`). Only the gateway holds the
 * private key, so a subgraph port that leaks answers nobody else, `_entities` included.
 */
export const CREDENTIAL_HEADER = 'x-construct-credential';
/** The client's User-Agent as the gateway saw it (subgraphs see only the gateway's own). */
export const USER_AGENT_HEADER = 'x-forwarded-user-agent';
/** The caller's rate-limit budget after this request (JSON `Quota`), set by the gateway. */
export const QUOTA_HEADER = 'x-construct-quota';
const ISSUER = 'construct-gateway';
const LIFETIME_SECONDS = 60;
const CACHE_LIMIT = 10_000;

export const audienceOf = (subgraph: string) => `construct:${subgraph}`;

/**
 * Mints credentials, reusing one per caller and subgraph for half its lifetime: signing costs
 * tens of microseconds, a request fans out to several subgraphs, and a caller sends many.
 */
export class CredentialMinter {
  private readonly cache = new Map<string, { token: string; renewAt: number }>();

  constructor(private readonly key: SigningKeyPair) {}

  async mint(caller: Caller, subgraph: string): Promise<string> {
    const cacheKey = `${subgraph}\u0000${JSON.stringify(caller)}`;
    const now = Date.now();
    const cached = this.cache.get(cacheKey);
    if (cached && cached.renewAt > now) return cached.token;
    const token = await new SignJWT({ caller })
      .setProtectedHeader({ alg: this.key.alg, kid: this.key.kid })
      .setIssuer(ISSUER)
      .setAudience(audienceOf(subgraph))
      .setIssuedAt()
      .setExpirationTime(`${LIFETIME_SECONDS}s`)
      .sign(this.key.privateKey);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(cacheKey, { token, renewAt: now + (LIFETIME_SECONDS * 1000) / 2 });
    return token;
  }
}

/** Verifies credentials for one subgraph; a verified token is remembered until it expires. */
export class CredentialVerifier {
  private readonly cache = new Map<string, { caller: Caller; expiresAt: number }>();

  constructor(
    private readonly publicKey: CryptoKey,
    private readonly subgraph: string,
  ) {}

  /** The caller the token vouches for; throws if it is missing, forged, expired or for another subgraph. */
  async verify(token: string | null | undefined): Promise<Caller> {
    if (!token) throw new Error('no gateway credential');
    const now = Date.now();
    const cached = this.cache.get(token);
    if (cached && cached.expiresAt > now) return cached.caller;
    const { payload } = await jwtVerify<{ caller: Caller }>(token, this.publicKey, {
      issuer: ISSUER,
      audience: audienceOf(this.subgraph),
      algorithms: ['EdDSA'],
      maxTokenAge: `${LIFETIME_SECONDS + 5}s`,
    });
    if (!payload.caller || typeof payload.caller !== 'object') throw new Error('credential without a caller');
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(token, { caller: payload.caller, expiresAt: payload.exp! * 1000 });
    return payload.caller;
  }
}
