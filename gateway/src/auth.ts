import type { IncomingMessage } from 'node:http';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { hashApiKey, isWellFormedApiKey, looksLikeApiKey } from '../../subgraphs/common/api-key-format';
import {
  ANONYMOUS,
  type ApiKeyScope,
  type Caller,
  lowerRole,
  type Role,
  roleOfScopes,
} from '../../subgraphs/common/caller';
import { graphqlError } from '../../subgraphs/common/errors';
import type { Logger } from '../../subgraphs/common/logger';
import type { EventBus } from '../../subgraphs/common/pubsub';
import type { AccessChange } from './access-change';
import type { GatewayConfig } from './config';
import type { SubgraphDataSource } from './datasource';

interface CallerAccess {
  active: boolean;
  memberships: { organizationId: string; role: Role }[];
}

interface ApiKeyPrincipal {
  id: string;
  organizationId: string;
  scopes: ApiKeyScope[];
  createdById: string;
  expiresAt: string | null;
}

type ApiKeyCaller = Extract<Caller, { kind: 'apiKey' }>;

/** What a key hash resolved to: the caller it acts as, or null when it is not a valid key. */
interface ResolvedKey {
  caller: ApiKeyCaller | null;
  /** The key and its creator, when known: what a revocation or a change of role drops. */
  apiKeyId?: string;
  userId?: string;
  expiresAt: number;
}

const CALLER_ACCESS_QUERY = '{ _callerAccess { active memberships { organizationId role } } }';
const API_KEY_PRINCIPAL_QUERY =
  'query ($h: String!) { _apiKeyPrincipal(secretHash: $h) { id organizationId scopes createdById expiresAt } }';
/** Resolved keys (and, apart, unknown ones) kept at most: a flood of bad keys never evicts good ones. */
const KEY_CACHE_LIMIT = 10_000;

/** 401, with the code clients branch on. */
const unauthenticated = (message: string) =>
  graphqlError('UNAUTHENTICATED', message, {
    http: { status: 401, headers: { 'www-authenticate': 'Bearer' } },
  });

/** One answer for every bad key (malformed, unknown, revoked, expired, orphaned): no oracle. */
const invalidApiKey = () => unauthenticated('The API key is not valid.');

const unavailable = () =>
  graphqlError('INTERNAL_SERVER_ERROR', 'Sign-in cannot be checked right now; retry shortly.');

/**
 * Resolves the caller of a request once, at the edge: verifies the bearer access token against
 * accounts' JWKS (cached by jose), then asks accounts whether the session still stands and what
 * the user's memberships are. That answer is cached briefly per session and dropped as soon as
 * accounts says the user's access changed, so a revoked session or a removed member loses
 * access within moments, without a lookup per field in any subgraph.
 *
 * A bearer token shaped like an API key (`cst_…`) is checked offline first (length, alphabet,
 * checksum), then its SHA-256 is looked up in the developer subgraph and its creator's role in
 * accounts: the key acts in its one organization with the role of its highest scope, never
 * above its creator's role now. That too is cached briefly (by hash) and dropped when the key
 * is revoked or rotated (`api-key-changed`) or its creator's access changes.
 */
export class Authenticator {
  private jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  private readonly access = new Map<string, { value: CallerAccess; userId: string; expiresAt: number }>();
  private readonly keys = new Map<string, ResolvedKey>();
  private readonly unknownKeys = new Map<string, ResolvedKey>();
  /** Lookups in flight by key hash: a burst of requests with one uncached key asks once. */
  private readonly keyLookups = new Map<string, Promise<ResolvedKey>>();
  /** Bumped by every drop: a lookup that started before one must not cache what it read. */
  private keyGeneration = 0;
  /**
   * The hash behind each API-key caller handed out, so a long-lived stream's caller can be
   * checked again; kept off the caller itself, which is signed into every subgraph credential.
   */
  private readonly keyHashes = new WeakMap<Caller, string>();
  private readonly unsubscribes: (() => void)[] = [];
  private readonly listeners: ((change: AccessChange) => void)[] = [];

  constructor(
    private readonly config: GatewayConfig,
    private readonly subgraph: (name: string) => SubgraphDataSource | undefined,
    events: EventBus,
    private readonly logger: Logger,
  ) {
    const users = events.pubsub.subscribe('caller-access-changed');
    void (async () => {
      for await (const userId of users) this.forget([userId]);
    })();
    const keys = events.pubsub.subscribe('api-key-changed');
    void (async () => {
      for await (const apiKeyId of keys) this.forgetApiKeys([apiKeyId]);
    })();
    this.unsubscribes.push(
      () => void users.return?.(),
      () => void keys.return?.(),
    );
  }

  async authenticate(request: Request, req: IncomingMessage | undefined, requestId: string): Promise<Caller> {
    const ip = this.clientIp(request, req);
    const header = request.headers.get('authorization');
    if (!header) return ip ? { kind: 'anonymous', ip } : ANONYMOUS;
    const [scheme, token] = header.split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) {
      throw unauthenticated('Send `Authorization: Bearer <access token or API key>`.');
    }
    if (looksLikeApiKey(token)) return this.authenticateApiKey(token, ip, requestId);
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

  /** Drops what is cached for these users (their sessions and their keys): the next request asks afresh. */
  forget(userIds: string[]) {
    const users = new Set(userIds);
    for (const [sessionId, entry] of this.access) if (users.has(entry.userId)) this.access.delete(sessionId);
    this.dropKeys((entry) => entry.userId !== undefined && users.has(entry.userId));
    for (const listener of this.listeners) listener({ userIds, apiKeyIds: [] });
  }

  /** Drops these API keys (revoked or rotated): their next request, and their streams, check again. */
  forgetApiKeys(apiKeyIds: string[]) {
    const ids = new Set(apiKeyIds);
    this.dropKeys((entry) => entry.apiKeyId !== undefined && ids.has(entry.apiKeyId));
    for (const listener of this.listeners) listener({ userIds: [], apiKeyIds });
  }

  /** Runs after access changed (long-lived subscriptions re-check theirs). */
  onAccessChanged(listener: (change: AccessChange) => void): void {
    this.listeners.push(listener);
  }

  /**
   * The caller as it stands now: new memberships, or null when the session has ended or the
   * API key is no longer valid. For streams that outlive the request that authenticated them.
   */
  async currentCaller(caller: Caller, requestId: string = crypto.randomUUID()): Promise<Caller | null> {
    if (caller.kind === 'apiKey') {
      const hash = this.keyHashes.get(caller);
      if (!hash) return null;
      const resolved = await this.resolveApiKey(hash, requestId);
      return resolved.caller ? this.issue(resolved.caller, hash, caller.ip) : null;
    }
    if (caller.kind !== 'user') return caller;
    const access = await this.callerAccess(caller.userId, caller.sessionId, caller.ip, requestId);
    if (!access.active) return null;
    return {
      ...caller,
      memberships: Object.fromEntries(access.memberships.map((m) => [m.organizationId, m.role])),
    };
  }

  close() {
    for (const unsubscribe of this.unsubscribes) unsubscribe();
  }

  private async authenticateApiKey(
    token: string,
    ip: string | undefined,
    requestId: string,
  ): Promise<Caller> {
    // A typo or a random string costs no lookup.
    if (!isWellFormedApiKey(token)) throw invalidApiKey();
    const hash = hashApiKey(token);
    const resolved = await this.resolveApiKey(hash, requestId);
    if (!resolved.caller) throw invalidApiKey();
    return this.issue(resolved.caller, hash, ip);
  }

  private issue(caller: ApiKeyCaller, hash: string, ip: string | undefined): Caller {
    const issued: Caller = { ...caller, ...(ip ? { ip } : {}) };
    this.keyHashes.set(issued, hash);
    return issued;
  }

  private async resolveApiKey(hash: string, requestId: string): Promise<ResolvedKey> {
    const now = Date.now();
    const cached = this.keys.get(hash) ?? this.unknownKeys.get(hash);
    if (cached && cached.expiresAt > now) return cached;
    const pending = this.keyLookups.get(hash);
    if (pending) return pending;
    const generation = this.keyGeneration;
    const lookup = this.lookUpApiKey(hash, requestId)
      .then((resolved) => {
        if (generation === this.keyGeneration) this.remember(hash, resolved);
        return resolved;
      })
      .finally(() => this.keyLookups.delete(hash));
    this.keyLookups.set(hash, lookup);
    return lookup;
  }

  private remember(hash: string, resolved: ResolvedKey) {
    const cache = resolved.caller ? this.keys : this.unknownKeys;
    cache.delete(hash);
    // Oldest first: Map iterates in insertion order.
    if (cache.size >= KEY_CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(hash, resolved);
  }

  private dropKeys(matches: (entry: ResolvedKey) => boolean) {
    this.keyGeneration++;
    for (const cache of [this.keys, this.unknownKeys]) {
      for (const [hash, entry] of cache) if (matches(entry)) cache.delete(hash);
    }
  }

  /** The developer subgraph's word on the key, capped by accounts' word on its creator. */
  private async lookUpApiKey(hash: string, requestId: string): Promise<ResolvedKey> {
    const until = Date.now() + this.config.API_KEY_CACHE_MS;
    const developer = this.subgraph('developer');
    // A supergraph without the developer subgraph has no valid keys.
    if (!developer) return { caller: null, expiresAt: until };
    const response = await developer.fetch(
      { query: API_KEY_PRINCIPAL_QUERY, variables: { h: hash } },
      { requestId, caller: ANONYMOUS },
    );
    const data = response.data as { _apiKeyPrincipal?: ApiKeyPrincipal | null } | null | undefined;
    if (response.errors?.length || data?._apiKeyPrincipal === undefined) {
      this.logger.error({ errors: response.errors }, 'developer did not answer the API key lookup');
      throw unavailable();
    }
    const principal = data._apiKeyPrincipal;
    if (!principal) return { caller: null, expiresAt: until };
    const keyExpiresAt = principal.expiresAt ? Date.parse(principal.expiresAt) : Number.POSITIVE_INFINITY;
    const known = {
      apiKeyId: principal.id,
      userId: principal.createdById,
      // An expiring key is never trusted past its expiry, however fresh the cache entry.
      expiresAt: Math.min(until, keyExpiresAt),
    };
    const caller: ApiKeyCaller = {
      kind: 'apiKey',
      apiKeyId: principal.id,
      userId: principal.createdById,
      organizationId: principal.organizationId,
      scopes: principal.scopes,
      memberships: {},
    };
    const access = await this.queryCallerAccess(caller, requestId);
    const creatorRole = access.active
      ? access.memberships.find((m) => m.organizationId === principal.organizationId)?.role
      : undefined;
    // The creator is gone, or no longer in the key's organization: the key dies with their access.
    if (!creatorRole) return { caller: null, ...known };
    const scopeRole = roleOfScopes(principal.scopes);
    const role = scopeRole ? lowerRole(creatorRole, scopeRole) : null;
    return {
      caller: { ...caller, memberships: role ? { [principal.organizationId]: role } : {} },
      ...known,
    };
  }

  private async verifyAccessToken(token: string): Promise<{ userId: string; sessionId: string }> {
    try {
      const { payload } = await jwtVerify(token, this.keySet(), {
        issuer: this.config.ACCESS_TOKEN_ISSUER,
        audience: this.config.ACCESS_TOKEN_AUDIENCE,
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
      throw unavailable();
    }
  }

  private keySet() {
    if (!this.jwks) {
      const url =
        this.config.JWKS_URL ?? new URL('/.well-known/jwks.json', this.accountsSource().url).toString();
      this.jwks = createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
    }
    return this.jwks;
  }

  private accountsSource(): SubgraphDataSource {
    const source = this.subgraph('accounts');
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
    const value = await this.queryCallerAccess(
      { kind: 'user', userId, sessionId, memberships: {}, ...(ip ? { ip } : {}) },
      requestId,
    );
    if (this.access.size > 50_000) this.access.clear();
    this.access.set(sessionId, { value, userId, expiresAt: now + this.config.CALLER_CACHE_MS });
    return value;
  }

  /** Accounts' `_callerAccess` for a user's session, or for an API key's creator. */
  private async queryCallerAccess(caller: Caller, requestId: string): Promise<CallerAccess> {
    const response = await this.accountsSource().fetch({ query: CALLER_ACCESS_QUERY }, { requestId, caller });
    const value = (response.data as { _callerAccess?: CallerAccess } | undefined)?._callerAccess;
    if (!value) {
      this.logger.error({ errors: response.errors }, 'accounts did not answer the caller access lookup');
      throw unavailable();
    }
    return value;
  }

  private clientIp(request: Request, req: IncomingMessage | undefined): string | undefined {
    if (this.config.TRUST_PROXY) {
      const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim();
      if (forwarded) return forwarded;
    }
    return req?.socket.remoteAddress ?? undefined;
  }
}
