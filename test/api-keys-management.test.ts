import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../db/ids';
import { hashApiKey, isWellFormedApiKey } from '../subgraphs/common/api-key-format';
import type { Caller, Role } from '../subgraphs/common/caller';
import { QUOTA_HEADER } from '../subgraphs/common/credential';
import { createEventBus } from '../subgraphs/common/pubsub';
import { gatewayHeaders } from './support/credentials';
import { createOrganization, createUser, type TestUser } from './support/factories';
import {
  postGraphQL,
  mutate as runMutation,
  startTestSupergraph,
  type TestSupergraph,
  type UserErrorData,
} from './support/supergraph';

/**
 * Managing API keys through the real gateway: a secret shown once and stored only as a hash,
 * scopes capped by the creator's role, revocation and rotation (with and without grace), who
 * sees which keys, the gateway-only principal lookup, and the events each change emits.
 * Authenticating with a key at the gateway is test/api-keys.test.ts.
 */

let sut: TestSupergraph;
let developerDb: pg.Client;
const people = {} as Record<'owner' | 'admin' | 'member' | 'viewer' | 'billing' | 'outsider', TestUser>;
let org: { id: string; slug: string };

beforeAll(async () => {
  sut = await startTestSupergraph();
  for (const name of ['owner', 'admin', 'member', 'viewer', 'billing', 'outsider'] as const) {
    people[name] = await createUser(sut.databases, name);
  }
  const roles: [keyof typeof people, Role][] = [
    ['owner', 'OWNER'],
    ['admin', 'ADMIN'],
    ['member', 'MEMBER'],
    ['viewer', 'VIEWER'],
    ['billing', 'BILLING'],
  ];
  org = await createOrganization(
    sut.databases,
    roles.map(([name, role]) => ({ user: people[name], role })),
  );
  developerDb = new pg.Client({ connectionString: sut.databases.developer });
  await developerDb.connect();
});

afterAll(async () => {
  await developerDb?.end();
  await sut?.close();
});

interface ApiKeyData {
  id: string;
  name: string;
  scopes: string[];
  status: 'ACTIVE' | 'EXPIRED' | 'REVOKED';
  prefix: string;
  lastFour: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  createdAt: string;
  createdBy: { id: string } | null;
  organization: { id: string } | null;
}

const KEY =
  'id name scopes status prefix lastFour expiresAt lastUsedAt revokedAt createdAt createdBy { id } organization { id }';

type Payload = { userErrors: UserErrorData[] } & Record<string, unknown>;

const mutate = <T extends Payload>(
  user: TestUser | undefined,
  name: string,
  input: Record<string, unknown>,
  selection: string,
) => runMutation<T>(sut.query, user, name, input, selection);

type Created = Payload & { apiKey: ApiKeyData | null; secret: string | null };
type Rotated = Created & { previousApiKey: ApiKeyData | null };

function create(user: TestUser, input: Record<string, unknown>, organizationId = org.id) {
  return mutate<Created>(
    user,
    'createApiKey',
    { organizationId, name: 'A key', scopes: ['READ_ONLY'], ...input },
    `apiKey { ${KEY} } secret`,
  );
}

/** Creates a key that must be accepted; returns it with its secret. */
async function createKey(user: TestUser, input: Record<string, unknown> = {}, organizationId = org.id) {
  const { payload, errors } = await create(user, input, organizationId);
  expect(errors).toEqual([]);
  expect(payload?.userErrors).toEqual([]);
  return { ...payload!.apiKey!, secret: payload!.secret! };
}

function revoke(user: TestUser, id: string) {
  return mutate<Payload & { apiKey: ApiKeyData | null }>(user, 'revokeApiKey', { id }, `apiKey { ${KEY} }`);
}

function rotate(user: TestUser, id: string, expireOldInHours?: number) {
  return mutate<Rotated>(
    user,
    'rotateApiKey',
    { id, ...(expireOldInHours === undefined ? {} : { expireOldInHours }) },
    `apiKey { ${KEY} } secret previousApiKey { ${KEY} }`,
  );
}

async function listKeys(user: TestUser, args = '', organizationSlug = org.slug) {
  const response = await sut.query<{
    organization: {
      apiKeys: {
        edges: { cursor: string; node: ApiKeyData }[];
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      } | null;
    } | null;
  }>(
    `query ($slug: String!) { organization(slug: $slug) {
      apiKeys${args ? `(${args})` : ''} { edges { cursor node { ${KEY} } } pageInfo { hasNextPage endCursor } }
    } }`,
    { slug: organizationSlug },
    user.headers,
  );
  return {
    keys: response.body.data?.organization?.apiKeys?.edges.map((edge) => edge.node) ?? null,
    connection: response.body.data?.organization?.apiKeys ?? null,
    errors: response.body.errors ?? [],
    text: JSON.stringify(response.body),
  };
}

async function readKey(user: TestUser, id: string) {
  const response = await sut.query<{ apiKey: ApiKeyData | null }>(
    `query ($id: ID!) { apiKey(id: $id) { ${KEY} } }`,
    { id },
    user.headers,
  );
  expect(response.body.errors).toBeUndefined();
  return response.body.data!.apiKey;
}

/** Asks the developer subgraph for a key's principal as the gateway does: directly, anonymously. */
async function principal(secret: string) {
  const response = await postGraphQL<{
    _apiKeyPrincipal: {
      id: string;
      organizationId: string;
      scopes: string[];
      createdById: string;
      expiresAt: string | null;
    } | null;
  }>(
    sut.subgraphs.developer.url,
    'query($h: String!) { _apiKeyPrincipal(secretHash: $h) { id organizationId scopes createdById expiresAt } }',
    { h: hashApiKey(secret) },
    await gatewayHeaders('developer'),
  );
  expect(response.body.errors).toBeUndefined();
  return response.body.data!._apiKeyPrincipal;
}

async function keyRow(id: string) {
  const { rows } = await developerDb.query('SELECT * FROM api_keys WHERE id = $1', [id]);
  return rows[0] as Record<string, unknown>;
}

/** Listens for `api-key-changed` as a gateway does (the test subgraphs share this process's bus). */
function watchKeyChanges() {
  const seen: string[] = [];
  const iterator = createEventBus(undefined).pubsub.subscribe('api-key-changed')[Symbol.asyncIterator]();
  const pump = (async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      seen.push(next.value);
    }
  })();
  return {
    seen,
    async stop() {
      await iterator.return?.();
      await pump;
    },
  };
}

const hours = (n: number) => n * 3_600_000;

describe('createApiKey', () => {
  it('returns a well-formed secret once; lists never show it and the database holds only its SHA-256', async () => {
    const expiresAt = new Date(Date.now() + hours(24 * 30)).toISOString();
    const { payload, errors } = await create(people.owner, {
      name: '  CI deploys  ',
      scopes: ['DEPLOY', 'READ_ONLY', 'DEPLOY'],
      expiresAt,
    });
    expect(errors).toEqual([]);
    expect(payload!.userErrors).toEqual([]);
    const secret = payload!.secret!;
    const key = payload!.apiKey!;
    expect(isWellFormedApiKey(secret)).toBe(true);
    expect(key).toMatchObject({
      name: 'CI deploys',
      scopes: ['READ_ONLY', 'DEPLOY'],
      status: 'ACTIVE',
      prefix: secret.slice(0, 12),
      lastFour: secret.slice(-4),
      expiresAt,
      lastUsedAt: null,
      revokedAt: null,
      createdBy: { id: people.owner.id },
      organization: { id: org.id },
    });
    expect(key.id).toMatch(/^key_[0-9A-Z]{26}$/);

    // Read back every way there is: no field carries the secret or its hash.
    const listed = await listKeys(people.owner, 'includeRevoked: true');
    const read = await readKey(people.owner, key.id);
    expect(read).toEqual(key);
    expect(listed.keys).toContainEqual(key);
    for (const text of [listed.text, JSON.stringify(read)]) {
      expect(text).not.toContain(secret.slice(12, -4));
      expect(text).not.toContain(hashApiKey(secret));
    }

    const row = await keyRow(key.id);
    expect(row.secret_hash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(secret.slice(12, -4));
  });

  it('caps scopes by the creator’s role: VIEWER reads, MEMBER deploys, ADMIN administers, BILLING nothing', async () => {
    const outcome = async (user: TestUser, scopes: string[]) => {
      const { payload, errors } = await create(user, { scopes });
      expect(errors).toEqual([]);
      return payload!.userErrors.length === 0 ? 'created' : payload!.userErrors;
    };
    const forbidden = [{ field: ['input', 'scopes'], message: expect.any(String), code: 'FORBIDDEN' }];

    expect(await outcome(people.viewer, ['READ_ONLY'])).toBe('created');
    expect(await outcome(people.viewer, ['DEPLOY'])).toEqual(forbidden);
    expect(await outcome(people.viewer, ['READ_ONLY', 'DEPLOY'])).toEqual(forbidden);
    expect(await outcome(people.member, ['DEPLOY'])).toBe('created');
    expect(await outcome(people.member, ['ADMIN'])).toEqual(forbidden);
    expect(await outcome(people.admin, ['ADMIN', 'DEPLOY'])).toBe('created');
    expect(await outcome(people.owner, ['ADMIN'])).toBe('created');
    expect(await outcome(people.billing, ['READ_ONLY'])).toEqual(forbidden);

    const denied = await create(people.member, { scopes: ['ADMIN'] });
    expect(denied.payload).toMatchObject({ apiKey: null, secret: null });
    expect(denied.payload!.userErrors[0]!.message).toContain('ADMIN');
  });

  it('answers NOT_FOUND on organizationId to non-members, as for an organization that does not exist', async () => {
    const outsider = await create(people.outsider, {});
    const missing = await create(people.outsider, {}, newId('org'));
    for (const { payload, errors } of [outsider, missing]) {
      expect(errors).toEqual([]);
      expect(payload).toEqual({
        apiKey: null,
        secret: null,
        userErrors: [
          { field: ['input', 'organizationId'], message: 'No such organization.', code: 'NOT_FOUND' },
        ],
      });
    }
  });

  it('names the field at fault for each invalid input', async () => {
    const fieldsAtFault = async (input: Record<string, unknown>) => {
      const { payload, errors } = await create(people.owner, input);
      expect(errors).toEqual([]);
      expect(payload!.apiKey).toBeNull();
      return payload!.userErrors.map((error) => [error.field.join('.'), error.code]);
    };
    expect(await fieldsAtFault({ name: '   ' })).toEqual([['input.name', 'INVALID']]);
    expect(await fieldsAtFault({ name: 'x'.repeat(65) })).toEqual([['input.name', 'INVALID']]);
    expect(await fieldsAtFault({ name: 'two\nlines' })).toEqual([['input.name', 'INVALID']]);
    expect(await fieldsAtFault({ scopes: [] })).toEqual([['input.scopes', 'INVALID']]);
    expect(await fieldsAtFault({ expiresAt: new Date(Date.now() - 1000).toISOString() })).toEqual([
      ['input.expiresAt', 'INVALID'],
    ]);
    expect(await fieldsAtFault({ expiresAt: new Date(Date.now() + hours(24 * 400)).toISOString() })).toEqual([
      ['input.expiresAt', 'INVALID'],
    ]);
    expect(await fieldsAtFault({ organizationId: 'acme' })).toEqual([['input.organizationId', 'INVALID']]);
    // 64 characters and a year ahead are within bounds.
    const { payload } = await create(people.owner, {
      name: 'y'.repeat(64),
      expiresAt: new Date(Date.now() + hours(24 * 364)).toISOString(),
    });
    expect(payload!.userErrors).toEqual([]);
  });

  it('refuses anonymous callers and API keys: keys are managed by signed-in people', async () => {
    const anonymous = await mutate(
      undefined,
      'createApiKey',
      { organizationId: org.id, name: 'x', scopes: ['READ_ONLY'] },
      'secret',
    );
    expect(anonymous.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);

    // As the gateway forwards a caller authenticated with an ADMIN key (see test/api-keys.test.ts
    // for the gateway's side): even an ADMIN key cannot mint, revoke or rotate keys.
    const key = await createKey(people.owner, { scopes: ['ADMIN'] });
    const asKey: Caller = {
      kind: 'apiKey',
      apiKeyId: key.id,
      userId: people.owner.id,
      organizationId: org.id,
      scopes: ['ADMIN'],
      memberships: { [org.id]: 'ADMIN' },
    };
    const headers = await gatewayHeaders('developer', asKey);
    for (const [operation, variables] of [
      [
        'mutation ($org: ID!) { createApiKey(input: { organizationId: $org, name: "minted", scopes: [ADMIN] }) { secret } }',
        { org: org.id },
      ],
      ['mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } } }', { id: key.id }],
      ['mutation ($id: ID!) { rotateApiKey(input: { id: $id }) { secret } }', { id: key.id }],
    ] as const) {
      const response = await postGraphQL(sut.subgraphs.developer.url, operation, variables, headers);
      expect(response.body.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
        ['FORBIDDEN', 'API keys cannot manage API keys; sign in.'],
      ]);
    }
    expect((await readKey(people.owner, key.id))!.status).toBe('ACTIVE');

    // An ADMIN key may still read the organization's keys, as an ADMIN would.
    const listed = await postGraphQL<{ apiKey: { id: string } | null }>(
      sut.subgraphs.developer.url,
      'query ($id: ID!) { apiKey(id: $id) { id } }',
      { id: key.id },
      headers,
    );
    expect(listed.body.data?.apiKey).toEqual({ id: key.id });
  });

  it('holds at most 100 active keys per organization; revoked and expired ones do not count', async () => {
    const { id: organizationId } = await createOrganization(sut.databases, [
      { user: people.owner, role: 'OWNER' },
    ]);
    // 99 active keys, and some that no longer count, arranged directly.
    const rows = Array.from({ length: 105 }, (_, i) => ({
      id: newId('key', Date.now() - 10_000 + i),
      revoked: i >= 99 && i < 102,
      expired: i >= 102,
    }));
    for (const row of rows) {
      await developerDb.query(
        `INSERT INTO api_keys (id, organization_id, created_by_id, name, scopes, secret_hash, prefix, last_four, revoked_at, expires_at)
         VALUES ($1, $2, $3, 'seeded', '{READ_ONLY}', $4, 'cst_seeded00', 'abcd', $5, $6)`,
        [
          row.id,
          organizationId,
          people.owner.id,
          hashApiKey(row.id),
          row.revoked ? new Date() : null,
          row.expired ? new Date(Date.now() - 1000) : null,
        ],
      );
    }
    const hundredth = await createKey(people.owner, {}, organizationId);
    const refused = await create(people.owner, {}, organizationId);
    expect(refused.payload).toEqual({
      apiKey: null,
      secret: null,
      userErrors: [
        { field: [], message: expect.stringContaining('100 active API keys'), code: 'LIMIT_REACHED' },
      ],
    });
    // Rotating with a grace period would hold two keys at once: refused too. Without, it replaces.
    expect((await rotate(people.owner, hundredth.id, 1)).payload!.userErrors.map((e) => e.code)).toEqual([
      'LIMIT_REACHED',
    ]);
    const rotated = await rotate(people.owner, hundredth.id);
    expect(rotated.payload!.userErrors).toEqual([]);

    expect((await revoke(people.owner, rotated.payload!.apiKey!.id)).payload!.userErrors).toEqual([]);
    await createKey(people.owner, {}, organizationId);
  });
});

describe('revokeApiKey', () => {
  it('stops the key at once, tells the gateways, and is a no-op the second time', async () => {
    const key = await createKey(people.member, { scopes: ['DEPLOY'] });
    expect(await principal(key.secret)).toMatchObject({ id: key.id });

    const changes = watchKeyChanges();
    const first = await revoke(people.member, key.id);
    expect(first.payload!.userErrors).toEqual([]);
    expect(first.payload!.apiKey).toMatchObject({
      id: key.id,
      status: 'REVOKED',
      revokedAt: expect.any(String),
    });
    expect(await principal(key.secret)).toBeNull();
    await expect.poll(() => changes.seen).toEqual([key.id]);

    const again = await revoke(people.member, key.id);
    expect(again.payload).toEqual({ apiKey: first.payload!.apiKey, userErrors: [] });
    // Revoking again changes nothing, so nothing more is announced.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(changes.seen).toEqual([key.id]);
    await changes.stop();

    const listed = await listKeys(people.member);
    expect(listed.keys!.map((k) => k.id)).not.toContain(key.id);
    const withRevoked = await listKeys(people.member, 'includeRevoked: true');
    expect(withRevoked.keys!.map((k) => k.id)).toContain(key.id);
  });

  it('is for the key’s creator and ADMINs only; others get NOT_FOUND, as for a key that does not exist', async () => {
    const ownerKey = await createKey(people.owner);
    const memberKey = await createKey(people.member);
    const notFound = [{ field: ['input', 'id'], message: 'No such API key.', code: 'NOT_FOUND' }];

    for (const user of [people.member, people.viewer, people.billing, people.outsider]) {
      expect((await revoke(user, ownerKey.id)).payload).toEqual({ apiKey: null, userErrors: notFound });
    }
    expect((await revoke(people.owner, newId('key'))).payload!.userErrors).toEqual(notFound);
    expect((await revoke(people.owner, 'key_nope')).payload!.userErrors).toEqual([
      { field: ['input', 'id'], message: 'Not an API key ID.', code: 'INVALID' },
    ]);
    expect((await readKey(people.owner, ownerKey.id))!.status).toBe('ACTIVE');

    expect((await revoke(people.admin, memberKey.id)).payload!.apiKey!.status).toBe('REVOKED');
  });
});

describe('rotateApiKey', () => {
  it('replaces the key with a new secret and revokes the old one at once', async () => {
    const expiresAt = new Date(Date.now() + hours(24 * 90)).toISOString();
    const old = await createKey(people.member, { name: 'deploy bot', scopes: ['DEPLOY'], expiresAt });
    const changes = watchKeyChanges();
    const { payload } = await rotate(people.member, old.id);
    expect(payload!.userErrors).toEqual([]);
    const fresh = payload!.apiKey!;
    expect(isWellFormedApiKey(payload!.secret)).toBe(true);
    expect(payload!.secret).not.toBe(old.secret);
    expect(fresh.id).not.toBe(old.id);
    expect(fresh).toMatchObject({
      name: 'deploy bot',
      scopes: ['DEPLOY'],
      expiresAt,
      status: 'ACTIVE',
      prefix: payload!.secret!.slice(0, 12),
      organization: { id: org.id },
      createdBy: { id: people.member.id },
    });
    expect(payload!.previousApiKey).toMatchObject({ id: old.id, status: 'REVOKED' });

    expect(await principal(old.secret)).toBeNull();
    expect(await principal(payload!.secret!)).toMatchObject({ id: fresh.id, scopes: ['DEPLOY'] });
    await expect.poll(() => changes.seen).toEqual([old.id]);
    await changes.stop();

    const active = (await listKeys(people.member)).keys!.map((k) => k.id);
    expect(active).toContain(fresh.id);
    expect(active).not.toContain(old.id);
  });

  it('with a grace period, the old key keeps working until then, and cannot be rotated twice', async () => {
    const old = await createKey(people.owner, { scopes: ['ADMIN'] });
    const before = Date.now();
    const { payload } = await rotate(people.owner, old.id, 24);
    expect(payload!.userErrors).toEqual([]);
    const previous = payload!.previousApiKey!;
    expect(previous).toMatchObject({ id: old.id, status: 'ACTIVE', revokedAt: null });
    const expiry = new Date(previous.expiresAt!).getTime();
    expect(expiry).toBeGreaterThanOrEqual(before + hours(24) - 60_000);
    expect(expiry).toBeLessThanOrEqual(Date.now() + hours(24) + 60_000);
    expect(payload!.apiKey!.expiresAt).toBeNull();

    // Both work during the grace period; the gateway learns the old one's new expiry.
    expect(await principal(old.secret)).toMatchObject({ id: old.id, expiresAt: previous.expiresAt });
    expect(await principal(payload!.secret!)).toMatchObject({ id: payload!.apiKey!.id });

    const twice = await rotate(people.owner, old.id);
    expect(twice.payload!.userErrors).toEqual([
      { field: ['input', 'id'], message: expect.stringContaining('already rotated'), code: 'CONFLICT' },
    ]);

    // When the grace period is over, the old key is EXPIRED and authenticates nothing.
    await developerDb.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      old.id,
    ]);
    expect(await principal(old.secret)).toBeNull();
    expect((await readKey(people.owner, old.id))!.status).toBe('EXPIRED');
    expect((await rotate(people.owner, old.id)).payload!.userErrors.map((e) => e.code)).toEqual(['CONFLICT']);
  });

  it('refuses revoked keys, grace periods out of range, and scopes the rotating user may no longer grant', async () => {
    const revoked = await createKey(people.owner);
    await revoke(people.owner, revoked.id);
    expect((await rotate(people.owner, revoked.id)).payload!.userErrors).toEqual([
      { field: ['input', 'id'], message: expect.stringContaining('revoked'), code: 'CONFLICT' },
    ]);

    const key = await createKey(people.owner);
    for (const grace of [-1, 169]) {
      expect(
        (await rotate(people.owner, key.id, grace)).payload!.userErrors.map((e) => [e.field, e.code]),
      ).toEqual([[['input', 'expireOldInHours'], 'INVALID']]);
    }

    // A member who made a DEPLOY key and was then demoted to VIEWER cannot renew it.
    const demoted = await createUser(sut.databases, 'demoted');
    const team = await createOrganization(sut.databases, [
      { user: people.owner, role: 'OWNER' },
      { user: demoted, role: 'MEMBER' },
    ]);
    const deployKey = await createKey(demoted, { scopes: ['DEPLOY'] }, team.id);
    const changed = await mutate(
      people.owner,
      'changeMemberRole',
      { organizationId: team.id, userId: demoted.id, role: 'VIEWER' },
      'membership { role }',
    );
    expect(changed.payload!.userErrors).toEqual([]);
    const refused = await rotate(demoted, deployKey.id);
    expect(refused.payload).toMatchObject({
      apiKey: null,
      secret: null,
      userErrors: [{ field: ['input', 'id'], code: 'FORBIDDEN' }],
    });
    // The owner may, and the new key is theirs.
    const byOwner = await rotate(people.owner, deployKey.id);
    expect(byOwner.payload!.apiKey!.createdBy).toEqual({ id: people.owner.id });
  });
});

describe('who sees which keys', () => {
  it('ADMINs list every key of the organization, other members only their own, BILLING none', async () => {
    const { id: organizationId, slug } = await createOrganization(sut.databases, [
      { user: people.owner, role: 'OWNER' },
      { user: people.admin, role: 'ADMIN' },
      { user: people.member, role: 'MEMBER' },
      { user: people.viewer, role: 'VIEWER' },
      { user: people.billing, role: 'BILLING' },
    ]);
    const ownerKey = await createKey(people.owner, { name: 'owner’s' }, organizationId);
    const memberKey = await createKey(people.member, { name: 'member’s' }, organizationId);
    const viewerKey = await createKey(people.viewer, { name: 'viewer’s' }, organizationId);

    const ids = async (user: TestUser) => (await listKeys(user, '', slug)).keys?.map((k) => k.id);
    // Newest first.
    expect(await ids(people.owner)).toEqual([viewerKey.id, memberKey.id, ownerKey.id]);
    expect(await ids(people.admin)).toEqual([viewerKey.id, memberKey.id, ownerKey.id]);
    expect(await ids(people.member)).toEqual([memberKey.id]);
    expect(await ids(people.viewer)).toEqual([viewerKey.id]);
    const billing = await listKeys(people.billing, '', slug);
    expect(billing.connection).toBeNull();
    expect(billing.errors.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);

    expect(await readKey(people.admin, memberKey.id)).toMatchObject({ id: memberKey.id });
    expect(await readKey(people.member, memberKey.id)).toMatchObject({ id: memberKey.id });
    expect(await readKey(people.member, ownerKey.id)).toBeNull();
    expect(await readKey(people.viewer, memberKey.id)).toBeNull();
    expect(await readKey(people.billing, ownerKey.id)).toBeNull();
    expect(await readKey(people.outsider, ownerKey.id)).toBeNull();

    // Pages follow one another without gaps or repeats.
    const first = await listKeys(people.owner, 'first: 2', slug);
    expect(first.keys!.map((k) => k.id)).toEqual([viewerKey.id, memberKey.id]);
    expect(first.connection!.pageInfo.hasNextPage).toBe(true);
    const next = await listKeys(
      people.owner,
      `first: 2, after: "${first.connection!.pageInfo.endCursor}"`,
      slug,
    );
    expect(next.keys!.map((k) => k.id)).toEqual([ownerKey.id]);
    expect(next.connection!.pageInfo.hasNextPage).toBe(false);
    expect((await listKeys(people.owner, 'first: 101', slug)).errors.map((e) => e.extensions?.code)).toEqual([
      'BAD_USER_INPUT',
    ]);
  });

  it('API keys list only with the ADMIN scope', async () => {
    const key = await createKey(people.owner, { scopes: ['DEPLOY'] });
    const asKey: Caller = {
      kind: 'apiKey',
      apiKeyId: key.id,
      userId: people.owner.id,
      organizationId: org.id,
      scopes: ['DEPLOY'],
      memberships: { [org.id]: 'MEMBER' },
    };
    const response = await postGraphQL<{ apiKey: unknown }>(
      sut.subgraphs.developer.url,
      'query ($id: ID!) { apiKey(id: $id) { id } }',
      { id: key.id },
      await gatewayHeaders('developer', asKey),
    );
    expect(response.body.data?.apiKey).toBeNull();
  });
});

describe('_apiKeyPrincipal', () => {
  it('is not part of the public API: the gateway refuses it at validation', async () => {
    const response = await sut.query(
      'query($h: String!) { _apiKeyPrincipal(secretHash: $h) { id } }',
      { h: 'a'.repeat(64) },
      people.owner.headers,
    );
    expect(response.body.data ?? null).toBeNull();
    expect(response.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('gives the gateway an active key’s principal and records its use at most once a minute', async () => {
    const expiresAt = new Date(Date.now() + hours(48)).toISOString();
    const key = await createKey(people.member, { scopes: ['READ_ONLY', 'DEPLOY'], expiresAt });
    expect(await principal(key.secret)).toEqual({
      id: key.id,
      organizationId: org.id,
      scopes: ['READ_ONLY', 'DEPLOY'],
      createdById: people.member.id,
      expiresAt,
    });
    const used = (await readKey(people.member, key.id))!.lastUsedAt;
    expect(used).not.toBeNull();

    await principal(key.secret);
    expect((await readKey(people.member, key.id))!.lastUsedAt).toBe(used);

    await developerDb.query(`UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, [
      key.id,
    ]);
    const stale = (await keyRow(key.id)).last_used_at as Date;
    await principal(key.secret);
    const fresh = new Date((await readKey(people.member, key.id))!.lastUsedAt!);
    expect(fresh.getTime()).toBeGreaterThan(stale.getTime() + 60_000);

    // Unknown, malformed and expired keys have no principal.
    expect(await principal(`${key.secret}x`)).toBeNull();
    const bad = await postGraphQL<{ _apiKeyPrincipal: unknown }>(
      sut.subgraphs.developer.url,
      'query($h: String!) { _apiKeyPrincipal(secretHash: $h) { id } }',
      { h: 'not a hash' },
      await gatewayHeaders('developer'),
    );
    expect(bad.body).toEqual({ data: { _apiKeyPrincipal: null } });
    await developerDb.query(`UPDATE api_keys SET expires_at = now() WHERE id = $1`, [key.id]);
    expect(await principal(key.secret)).toBeNull();
  });
});

describe('viewerQuota', () => {
  it('shows the budget the gateway forwarded, and null when none was', async () => {
    const quota = {
      principal: `user:${people.owner.id}`,
      tier: 'free',
      limit: 600,
      remaining: 598,
      windowSeconds: 60,
      resetAt: '2030-01-01T00:01:00.000Z',
    };
    const caller: Caller = {
      kind: 'user',
      userId: people.owner.id,
      sessionId: people.owner.sessionId,
      memberships: { [org.id]: 'OWNER' },
    };
    const query = '{ viewerQuota { principal tier limit remaining windowSeconds resetAt } }';
    const withQuota = await postGraphQL(sut.subgraphs.developer.url, query, undefined, {
      ...(await gatewayHeaders('developer', caller)),
      [QUOTA_HEADER]: JSON.stringify(quota),
    });
    expect(withQuota.body).toEqual({ data: { viewerQuota: quota } });
    const without = await postGraphQL(
      sut.subgraphs.developer.url,
      query,
      undefined,
      await gatewayHeaders('developer', caller),
    );
    expect(without.body).toEqual({ data: { viewerQuota: null } });
  });
});

describe('platform events', () => {
  /** The events the developer subgraph queued for relay (its outbox), about this key. */
  async function queuedEvents(apiKeyId: string) {
    const { rows } = await developerDb.query(
      `SELECT data FROM pgboss.job WHERE name = 'platform-events' AND data->'subjects'->>'apiKeyId' = $1
       ORDER BY created_on, data->>'type'`,
      [apiKeyId],
    );
    return rows.map((row) => row.data as Record<string, unknown>);
  }

  it('queues api_key.created with the change, and api_key.revoked for a revoked or rotated key', async () => {
    const expiresAt = new Date(Date.now() + hours(72)).toISOString();
    const key = await createKey(people.admin, { name: 'events', scopes: ['DEPLOY'], expiresAt });
    expect(await queuedEvents(key.id)).toEqual([
      {
        id: expect.stringMatching(/^evt_/),
        type: 'api_key.created',
        organizationId: org.id,
        actor: { kind: 'user', userId: people.admin.id, apiKeyId: null },
        source: 'developer',
        subjects: { apiKeyId: key.id },
        payload: { name: 'events', scopes: ['DEPLOY'], prefix: key.prefix, expiresAt },
        occurredAt: expect.any(String),
      },
    ]);

    const { payload } = await rotate(people.owner, key.id);
    const fresh = payload!.apiKey!;
    expect((await queuedEvents(key.id)).map((event) => [event.type, event.payload])).toEqual([
      ['api_key.created', expect.anything()],
      [
        'api_key.revoked',
        {
          name: 'events',
          prefix: key.prefix,
          reason: 'ROTATED',
          replacedById: fresh.id,
          effectiveAt: payload!.previousApiKey!.revokedAt,
        },
      ],
    ]);
    expect(await queuedEvents(fresh.id)).toEqual([
      expect.objectContaining({
        type: 'api_key.created',
        actor: { kind: 'user', userId: people.owner.id, apiKeyId: null },
        payload: {
          name: 'events',
          scopes: ['DEPLOY'],
          prefix: fresh.prefix,
          expiresAt,
          rotatedFromId: key.id,
        },
      }),
    ]);

    await revoke(people.owner, fresh.id);
    await revoke(people.owner, fresh.id);
    const revoked = (await queuedEvents(fresh.id)).filter((event) => event.type === 'api_key.revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]!.payload).toMatchObject({ reason: 'REVOKED' });

    // A refused creation queues nothing.
    const before = await developerDb.query(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'platform-events'`,
    );
    await create(people.viewer, { scopes: ['ADMIN'] });
    const after = await developerDb.query(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'platform-events'`,
    );
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });
});
