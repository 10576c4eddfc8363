import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { ANONYMOUS, type Caller, type Role } from '../../subgraphs/common/caller';
import { graphqlError } from '../../subgraphs/common/errors';
import type { Logger } from '../../subgraphs/common/logger';
import type { EventBus } from '../../subgraphs/common/pubsub';
import type { GatewayConfig } from './config';
import type { SubgraphDataSource } from './datasource';

interface CallerAccess {
  active: boolean;
  memberships: { organizationId: string; role: Role }[];
}

const CALLER_ACCESS_QUERY = '{ _callerAccess { active memberships { organizationId role } } }';

/** 401, with the code clients branch on. */
const unauthenticated = (message: string) =>
  graphqlError('UNAUTHENTICATED', message, {
    http: { status: 401, headers: { 'www-authenticate': 'Bearer' } },
  });

/**
 * Resolves the caller of a request once, at the edge: verifies the bearer access token against
 * accounts' JWKS (cached by jose), then asks accounts whether the session still stands and what
 * the user's memberships are. That answer is cached briefly per session and dropped as soon as
 * accounts says the user's access changed, so a revoked session or a removed member loses
 * access within moments, without a lookup per field in any subgraph.
 */
export class Authenticator {
  private jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  private readonly access = new Map<string, { value: CallerAccess; userId: string; expiresAt: number }>();
  private readonly unsubscribe: () => void;
  private readonly listeners: ((userIds: string[]) => void)[] = [];

  constructor(
    private readonly config: GatewayConfig,
    private readonly accounts: () => SubgraphDataSource | undefined,
    events: EventBus,
    private readonly logger: Logger,
  ) {
    const iterator = events.pubsub.subscribe('caller-access-changed');
    void (async () => {
      for await (const userId of iterator) this.forget([userId]);
    })();
    this.unsubscribe = () => void iterator.return?.();
  }

  async authenticate(request: Request, req: IncomingMessage | undefined, requestId: string): Promise<Caller> {
    const ip = this.clientIp(request, req);
    const header = request.headers.get('authorization');
    if (!header) return ip ? { kind: 'anonymous', ip } : ANONYMOUS;
    const [scheme, token] = header.split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) {
      throw unauthenticated('Send `Authorization: Bearer <access token>`.');
    }
    const { userId, sessionId } = await this.verifyAccessToken(token);
    const access = await this.callerAccess(userId, sessionId, ip, requestId);
    if (!access.active) throw unauthenticated('This session has ended; sign in again.');
    return {
      kind: 'user',
      userId,
      sessionId,
      memberships: Object.fromEntries(access.memberships.map((m) => [m.organizationId, m.role])),
      ...(ip ? { ip } : {}),
    };
  }

  /** Drops what is cached for these users: their next request asks accounts afresh. */
  forget(userIds: string[]) {
    const users = new Set(userIds);
    for (const [sessionId, entry] of this.access) if (users.has(entry.userId)) this.access.delete(sessionId);
    for (const listener of this.listeners) listener(userIds);
  }

  /** Runs after the access of these users changed (long-lived subscriptions re-check theirs). */
  onAccessChanged(listener: (userIds: string[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * The caller as accounts sees them now: new memberships, or null when the session has ended.
   * For streams that outlive the request that authenticated them.
   */
  async currentCaller(caller: Caller, requestId: string = crypto.randomUUID()): Promise<Caller | null> {
    if (caller.kind !== 'user') return caller;
    const access = await this.callerAccess(caller.userId, caller.sessionId, caller.ip, requestId);
    if (!access.active) return null;
    return {
      ...caller,
      memberships: Object.fromEntries(access.memberships.map((m) => [m.organizationId, m.role])),
    };
  }

  close() {
    this.unsubscribe();
  }

  private async verifyAccessToken(token: string): Promise<{ userId: string; sessionId: string }> {
    try {
      const { payload } = await jwtVerify(token, this.keySet(), {
        issuer: this.config.accessToken.issuer,
        audience: this.config.accessToken.audience,
        algorithms: ['EdDSA'],
        requiredClaims: ['sub', 'sid', 'exp'],
      });
      return { userId: payload.sub!, sessionId: String(payload.sid) };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw unauthenticated('The access token has expired; refresh it.');
      const keysUnavailable =
        error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid;
      if (error instanceof joseErrors.JOSEError && !keysUnavailable) {
        throw unauthenticated('The access token is not valid.');
      }
      // The JWKS could not be fetched: accounts is down, which is not the caller's fault.
      this.logger.error({ err: error }, 'access token verification failed');
      throw graphqlError('INTERNAL_SERVER_ERROR', 'Sign-in cannot be checked right now; retry shortly.');
    }
  }

  private keySet() {
    if (!this.jwks) {
      const url =
        this.config.jwksUrl ?? new URL('/.well-known/jwks.json', this.accountsSource().url).toString();
      this.jwks = createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
    }
    return this.jwks;
  }

  private accountsSource(): SubgraphDataSource {
    const source = this.accounts();
    if (!source) throw new Error('The supergraph has no accounts subgraph to authenticate against.');
    return source;
  }

  private async callerAccess(
    userId: string,
    sessionId: string,
    ip: string | undefined,
    requestId: string,
  ): Promise<CallerAccess> {
    const now = Date.now();
    const cached = this.access.get(sessionId);
    if (cached && cached.expiresAt > now) return cached.value;
    const response = await this.accountsSource().process({
      kind: 'health check' as never,
      request: { query: CALLER_ACCESS_QUERY },
      context: {
        requestId,
        caller: { kind: 'user', userId, sessionId, memberships: {}, ...(ip ? { ip } : {}) },
      },
    });
    const value = (response.data as { _callerAccess?: CallerAccess } | undefined)?._callerAccess;
    if (!value) {
      this.logger.error({ errors: response.errors }, 'accounts did not answer the caller access lookup');
      throw graphqlError('INTERNAL_SERVER_ERROR', 'Sign-in cannot be checked right now; retry shortly.');
    }
    if (this.access.size > 50_000) this.access.clear();
    this.access.set(sessionId, { value, userId, expiresAt: now + this.config.callerCacheMs });
    return value;
  }

  private clientIp(request: Request, req: IncomingMessage | undefined): string | undefined {
    if (this.config.trustProxy) {
      const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim();
      if (forwarded) return forwarded;
    }
    return req?.socket.remoteAddress ?? undefined;
  }
}
