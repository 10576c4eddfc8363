import { z } from 'zod';
import type { ApiKeyRow } from '../../../db/developer/schema';
import { generateApiKey, hashApiKey } from '../../common/api-key-format';
import {
  type ApiKeyScope,
  apiKeyScopes,
  type Caller,
  hasRole,
  isMember,
  scopeRoles,
} from '../../common/caller';
import { graphqlError, refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { NewEvent, Outbox } from '../../common/outbox';
import { type ConnectionArgs, keysetConnection } from '../../common/pagination';
import type { EventBus } from '../../common/pubsub';
import type { DeveloperQueries, DeveloperScope, DeveloperStorage } from '../storage';

/** Active keys an organization may hold at once (revoked and expired ones do not count). */
export const MAX_ACTIVE_KEYS_PER_ORGANIZATION = 100;
/** The longest a rotated key may keep working beside its replacement: a week. */
export const MAX_ROTATION_GRACE_HOURS = 168;

export type ApiKeyStatus = 'ACTIVE' | 'EXPIRED' | 'REVOKED';

export function apiKeyStatus(key: ApiKeyRow, now = Date.now()): ApiKeyStatus {
  if (key.revokedAt) return 'REVOKED';
  if (key.expiresAt && key.expiresAt.getTime() <= now) return 'EXPIRED';
  return 'ACTIVE';
}

type UserCaller = Extract<Caller, { kind: 'user' }>;

/**
 * Keys are managed by people only. A key that could mint keys would outlive its own revocation
 * (a leaked key would make another before anyone noticed), so an API key gets FORBIDDEN here.
 */
function signedInUser(caller: Caller): UserCaller {
  if (caller.kind === 'apiKey') throw graphqlError('FORBIDDEN', 'API keys cannot manage API keys; sign in.');
  if (caller.kind !== 'user') throw refusal(caller);
  return caller;
}

/**
 * Whether the caller may read this key: ADMIN and above (people or ADMIN-scoped keys) see every
 * key of the organization; other members from VIEWER up see the keys they created.
 */
export function canSeeApiKey(caller: Caller, key: ApiKeyRow): boolean {
  if (hasRole(caller, key.organizationId, 'ADMIN')) return true;
  return (
    caller.kind === 'user' &&
    key.createdById === caller.userId &&
    hasRole(caller, key.organizationId, 'VIEWER')
  );
}

/** The scopes the caller's role does not allow them to put in a key. */
function scopesBeyondRole(caller: Caller, organizationId: string, scopes: readonly ApiKeyScope[]) {
  return scopes.filter((scope) => !hasRole(caller, organizationId, scopeRoles[scope]));
}

function beyondRoleError(field: string[], denied: ApiKeyScope[], all: number): UserError {
  const message =
    denied.length === all && denied.includes('READ_ONLY')
      ? 'Your role in this organization cannot create API keys.'
      : `Your role in this organization cannot grant ${denied.join(', ')}: a key never does more than its creator may (READ_ONLY takes VIEWER, DEPLOY takes MEMBER, ADMIN takes ADMIN).`;
  return userError(field, message, 'FORBIDDEN');
}

const limitReached = userError(
  [],
  `This organization has ${MAX_ACTIVE_KEYS_PER_ORGANIZATION} active API keys, the most it may hold: revoke one first.`,
  'LIMIT_REACHED',
);

const noSuchKey = userError(['input', 'id'], 'No such API key.', 'NOT_FOUND');

const organizationId = z.string().regex(/^org_[0-9A-Z]{26}$/, 'Not an organization ID.');
const apiKeyId = z.string().regex(/^key_[0-9A-Z]{26}$/, 'Not an API key ID.');

const name = z
  .string()
  .trim()
  .min(1, 'Must not be blank.')
  .max(64, 'Use at most 64 characters.')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'Use one line without control characters.');

/** Non-empty; duplicates dropped and the rest put in a stable order, so equal sets read the same. */
const scopes = z
  .array(z.enum(apiKeyScopes))
  .min(1, 'Give the key at least one scope.')
  .transform((values) => apiKeyScopes.filter((scope) => values.includes(scope)));

/** A client clock a little ahead of ours must not turn "a year from now" into a refusal. */
const CLOCK_LEEWAY_MS = 5 * 60_000;

const expiresAt = z
  .date()
  .nullish()
  .superRefine((value, check) => {
    if (!value) return;
    const now = Date.now();
    const yearAhead = new Date(now);
    yearAhead.setUTCFullYear(yearAhead.getUTCFullYear() + 1);
    if (value.getTime() <= now) check.addIssue({ code: 'custom', message: 'Must be in the future.' });
    else if (value.getTime() > yearAhead.getTime() + CLOCK_LEEWAY_MS) {
      check.addIssue({ code: 'custom', message: 'Must be at most one year from now.' });
    }
  });

export interface CreateApiKeyPayload {
  apiKey: ApiKeyRow | null;
  secret: string | null;
  userErrors: UserError[];
}

export interface RevokeApiKeyPayload {
  apiKey: ApiKeyRow | null;
  userErrors: UserError[];
}

export interface RotateApiKeyPayload {
  apiKey: ApiKeyRow | null;
  secret: string | null;
  previousApiKey: ApiKeyRow | null;
  userErrors: UserError[];
}

function createdEvent(caller: Caller, key: ApiKeyRow, rotatedFromId?: string): NewEvent {
  return {
    type: 'api_key.created',
    organizationId: key.organizationId,
    actor: caller,
    subjects: { apiKeyId: key.id },
    payload: {
      name: key.name,
      scopes: key.scopes,
      prefix: key.prefix,
      expiresAt: key.expiresAt?.toISOString() ?? null,
      ...(rotatedFromId ? { rotatedFromId } : {}),
    },
  };
}

function revokedEvent(caller: Caller, key: ApiKeyRow, replacedById?: string): NewEvent {
  return {
    type: 'api_key.revoked',
    organizationId: key.organizationId,
    actor: caller,
    subjects: { apiKeyId: key.id },
    payload: {
      name: key.name,
      prefix: key.prefix,
      reason: replacedById ? 'ROTATED' : 'REVOKED',
      // When it stops working: now, or at the end of a rotation's grace period.
      effectiveAt: (key.revokedAt ?? key.expiresAt ?? new Date()).toISOString(),
      ...(replacedById ? { replacedById } : {}),
    },
  };
}

type KeyValues = Omit<Parameters<DeveloperQueries['insertApiKey']>[0], 'secretHash' | 'prefix' | 'lastFour'>;

/** Inserts a fresh key: only its hash is stored; the secret goes back to the caller once. */
async function insertKey(
  tx: DeveloperQueries,
  values: KeyValues,
): Promise<{ key: ApiKeyRow; secret: string }> {
  const { secret, prefix, lastFour } = generateApiKey();
  const key = await tx.insertApiKey({ ...values, secretHash: hashApiKey(secret), prefix, lastFour });
  return { key, secret };
}

/** Like `insertKey`; null when the organization already holds the most active keys it may. */
async function insertWithinLimit(tx: DeveloperQueries, values: KeyValues) {
  await tx.lockOrganizationKeys(values.organizationId);
  if ((await tx.countActiveApiKeys(values.organizationId)) >= MAX_ACTIVE_KEYS_PER_ORGANIZATION) return null;
  return insertKey(tx, values);
}

const atId = (error: UserError): UserError => ({ ...error, field: ['input', 'id'] });

export interface CreateApiKeyInput {
  organizationId: string;
  name: string;
  scopes: ApiKeyScope[];
  expiresAt?: Date | null;
}

export interface ApiKeysOfOrganizationArgs extends ConnectionArgs {
  includeRevoked?: boolean | null;
}

/** What the gateway needs to act as a key: only for an active one. */
export interface ApiKeyPrincipal {
  id: string;
  organizationId: string;
  scopes: ApiKeyScope[];
  createdById: string;
  expiresAt: Date | null;
}

export interface ApiKeysDependencies {
  storage: DeveloperStorage;
  /** Where api_key.created/.revoked are emitted, in the transaction of the change. */
  outbox: Outbox;
  /** `api-key-changed` tells every gateway to drop a revoked or rotated key at once. */
  events: EventBus;
  logger: Logger;
}

/**
 * API keys: who may see, create, revoke and rotate them, and the lookup the gateway makes for
 * a bearer key. Every method takes the caller's scope first and decides what they may do.
 */
export function createApiKeysService({ storage, outbox, events, logger }: ApiKeysDependencies) {
  /**
   * The key a mutation names, if the signed-in caller may change it: its creator (while still a
   * member from VIEWER up) or an ADMIN of its organization. Anything else reads as no such key.
   */
  async function keyForChange(
    scope: DeveloperScope,
    id: unknown,
  ): Promise<{ key: ApiKeyRow } | { userErrors: UserError[] }> {
    const parsed = apiKeyId.safeParse(id);
    if (!parsed.success) return { userErrors: userErrorsFromZod(parsed.error, 'input').map(atId) };
    const key = await visible(scope, parsed.data);
    return key ? { key } : { userErrors: [noSuchKey] };
  }

  /** After a commit that changed a key: relay its event, and tell every gateway to drop what it cached. */
  async function changed(scope: DeveloperScope, key: ApiKeyRow) {
    outbox.wake();
    scope.loaders.apiKey.clear(key.id).prime(key.id, key);
    await events.pubsub.publish('api-key-changed', key.id);
  }

  /** The key, if it exists and the caller may read it; null otherwise (no hint which). */
  async function visible(scope: DeveloperScope, id: string): Promise<ApiKeyRow | null> {
    const key = await scope.loaders.apiKey.load(id);
    return key && canSeeApiKey(scope.caller, key) ? key : null;
  }

  return {
    visible,

    /** An organization's keys as the caller may list them, newest first. */
    ofOrganization(scope: DeveloperScope, organizationId: string, args: ApiKeysOfOrganizationArgs) {
      const { caller } = scope;
      let createdById: string | undefined;
      if (!hasRole(caller, organizationId, 'ADMIN')) {
        if (caller.kind !== 'user' || !hasRole(caller, organizationId, 'VIEWER')) {
          throw refusal(
            caller,
            caller.kind === 'apiKey'
              ? 'Listing API keys with an API key takes the ADMIN scope.'
              : 'Listing API keys takes the VIEWER role or higher in this organization.',
          );
        }
        createdById = caller.userId;
      }
      const includeRevoked = args.includeRevoked ?? false;
      return keysetConnection(args, (page) =>
        storage.apiKeysOfOrganization(organizationId, { createdById, includeRevoked }, page),
      );
    },

    async create(scope: DeveloperScope, input: CreateApiKeyInput): Promise<CreateApiKeyPayload> {
      const caller = signedInUser(scope.caller);
      const refused = (userErrors: UserError[]) => ({ apiKey: null, secret: null, userErrors });
      const parsed = z.object({ organizationId, name, scopes, expiresAt }).safeParse(input);
      if (!parsed.success) return refused(userErrorsFromZod(parsed.error));
      const values = parsed.data;
      if (!isMember(caller, values.organizationId)) {
        // The same answer as for an organization that does not exist.
        return refused([userError(['input', 'organizationId'], 'No such organization.', 'NOT_FOUND')]);
      }
      const denied = scopesBeyondRole(caller, values.organizationId, values.scopes);
      if (denied.length > 0)
        return refused([beyondRoleError(['input', 'scopes'], denied, values.scopes.length)]);

      const created = await storage.transaction(async (tx, client) => {
        const made = await insertWithinLimit(tx, {
          organizationId: values.organizationId,
          createdById: caller.userId,
          name: values.name,
          scopes: values.scopes,
          expiresAt: values.expiresAt ?? null,
        });
        if (made) await outbox.emit(client, createdEvent(caller, made.key));
        return made;
      });
      if (!created) return refused([limitReached]);
      outbox.wake();
      scope.loaders.apiKey.prime(created.key.id, created.key);
      return { apiKey: created.key, secret: created.secret, userErrors: [] };
    },

    /**
     * Revokes a key at once. Revoking a key already revoked returns it as it is, with no error and
     * no second event: a client that retries after a lost response gets the same answer.
     */
    async revoke(scope: DeveloperScope, input: { id: string }): Promise<RevokeApiKeyPayload> {
      const caller = signedInUser(scope.caller);
      const found = await keyForChange(scope, input.id);
      if ('userErrors' in found) return { apiKey: null, userErrors: found.userErrors };
      const result = await storage.transaction(async (tx, client) => {
        const key = await tx.lockApiKey(found.key.id);
        if (!key || key.revokedAt) return { key, revoked: false };
        const revoked = await tx.revokeApiKey(key.id);
        await outbox.emit(client, revokedEvent(caller, revoked));
        return { key: revoked, revoked: true };
      });
      if (!result.key) return { apiKey: null, userErrors: [noSuchKey] };
      if (result.revoked) await changed(scope, result.key);
      return { apiKey: result.key, userErrors: [] };
    },

    /**
     * Replaces a key with a new secret, keeping its name, scopes, expiry and organization. The old
     * key stops now, or keeps working for a grace period so deployed programs can switch over
     * (Stripe's "roll key"). The new key is the rotating user's: it may do only what they may.
     */
    async rotate(
      scope: DeveloperScope,
      input: { id: string; expireOldInHours?: number | null },
    ): Promise<RotateApiKeyPayload> {
      const caller = signedInUser(scope.caller);
      const refused = (userErrors: UserError[]) => ({
        apiKey: null,
        secret: null,
        previousApiKey: null,
        userErrors,
      });
      const grace = z
        .number()
        .int('Use whole hours.')
        .min(0, 'Use 0 or more hours.')
        .max(MAX_ROTATION_GRACE_HOURS, `Use at most ${MAX_ROTATION_GRACE_HOURS} hours (a week).`)
        .safeParse(input.expireOldInHours ?? 0);
      if (!grace.success) {
        return refused(
          userErrorsFromZod(grace.error).map((error) => ({ ...error, field: ['input', 'expireOldInHours'] })),
        );
      }
      const found = await keyForChange(scope, input.id);
      if ('userErrors' in found) return refused(found.userErrors);
      const denied = scopesBeyondRole(caller, found.key.organizationId, found.key.scopes);
      if (denied.length > 0)
        return refused([beyondRoleError(['input', 'id'], denied, found.key.scopes.length)]);

      type Rotation =
        | { made: { key: ApiKeyRow; secret: string }; previous: ApiKeyRow }
        | { userErrors: UserError[] };
      const result = await storage.transaction(async (tx, client): Promise<Rotation> => {
        const old = await tx.lockApiKey(found.key.id);
        if (!old) return { userErrors: [noSuchKey] };
        const status = apiKeyStatus(old);
        if (status !== 'ACTIVE') {
          const message = `This key is ${status.toLowerCase()}: create a new one instead.`;
          return { userErrors: [userError(['input', 'id'], message, 'CONFLICT')] };
        }
        if (old.replacedById) {
          const message = 'This key was already rotated: rotate its replacement instead.';
          return { userErrors: [userError(['input', 'id'], message, 'CONFLICT')] };
        }
        const values = {
          organizationId: old.organizationId,
          createdById: caller.userId,
          name: old.name,
          scopes: old.scopes,
          expiresAt: old.expiresAt,
        };
        // Revoked at once, the old key frees its place: only a grace period holds two at a time.
        const made = grace.data === 0 ? await insertKey(tx, values) : await insertWithinLimit(tx, values);
        if (!made) return { userErrors: [limitReached] };
        const previous =
          grace.data === 0
            ? await tx.revokeApiKey(old.id, made.key.id)
            : await tx.expireApiKeyIn(old.id, grace.data, made.key.id);
        await outbox.emit(client, revokedEvent(caller, previous, made.key.id));
        await outbox.emit(client, createdEvent(caller, made.key, old.id));
        return { made, previous };
      });
      if (!('made' in result)) return refused(result.userErrors);
      await changed(scope, result.previous);
      scope.loaders.apiKey.prime(result.made.key.id, result.made.key);
      return {
        apiKey: result.made.key,
        secret: result.made.secret,
        previousApiKey: result.previous,
        userErrors: [],
      };
    },

    /**
     * The active key with this hash, for the gateway. Records its use too, at most once a minute;
     * a failure to record never fails the lookup (a request must not fail for bookkeeping).
     */
    async principal(_scope: DeveloperScope, secretHash: string): Promise<ApiKeyPrincipal | null> {
      if (!/^[0-9a-f]{64}$/.test(secretHash)) return null;
      const key = await storage.activeApiKeyByHash(secretHash);
      if (!key) return null;
      try {
        await storage.touchApiKey(key.id);
      } catch (error) {
        logger.warn({ err: error, apiKeyId: key.id }, 'could not record an API key use');
      }
      return {
        id: key.id,
        organizationId: key.organizationId,
        scopes: key.scopes,
        createdById: key.createdById,
        expiresAt: key.expiresAt,
      };
    },
  };
}

export type ApiKeysService = ReturnType<typeof createApiKeysService>;
