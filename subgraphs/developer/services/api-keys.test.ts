import { describe, expect, it } from 'vitest';
import {
  anonymousCaller,
  apiKeyCaller,
  organizationId,
  startServices,
  userCaller,
  useServices,
} from '../../../test/support/services';
import { hashApiKey } from '../../common/api-key-format';
import type { Caller } from '../../common/caller';
import { developer } from '../index';
import { MAX_ACTIVE_KEYS_PER_ORGANIZATION } from './api-keys';

const testbed = useServices(() => startServices(developer));

const keys = () => testbed.services.apiKeys;

async function createKey(caller: Caller, organization: string, scopes: ('READ_ONLY' | 'DEPLOY' | 'ADMIN')[]) {
  const created = await keys().create(testbed.scope(caller), {
    organizationId: organization,
    name: 'CI',
    scopes,
  });
  expect(created.userErrors).toEqual([]);
  return created as { apiKey: NonNullable<typeof created.apiKey>; secret: string };
}

describe('the API keys service', () => {
  it('gives the secret once and stores only its hash, which the gateway can look up', async () => {
    const org = organizationId();
    const owner = userCaller({ [org]: 'OWNER' });
    const { apiKey, secret } = await createKey(owner, org, ['DEPLOY']);
    expect(secret).toMatch(/^cst_/);
    const { rows } = await testbed.pool.query('SELECT secret_hash FROM api_keys WHERE id = $1', [apiKey.id]);
    expect(rows[0].secret_hash).toBe(hashApiKey(secret));
    expect(JSON.stringify(rows)).not.toContain(secret);

    const principal = await keys().principal(testbed.scope(anonymousCaller), hashApiKey(secret));
    expect(principal).toMatchObject({ id: apiKey.id, organizationId: org, scopes: ['DEPLOY'] });
  });

  it('never grants a scope above the creator’s role, and API keys cannot mint keys', async () => {
    const org = organizationId();
    const member = userCaller({ [org]: 'MEMBER' });
    const refused = await keys().create(testbed.scope(member), {
      organizationId: org,
      name: 'too much',
      scopes: ['ADMIN'],
    });
    expect(refused.apiKey).toBeNull();
    expect(refused.userErrors).toMatchObject([{ field: ['input', 'scopes'], code: 'FORBIDDEN' }]);

    await expect(
      keys().create(testbed.scope(apiKeyCaller(org, 'ADMIN')), {
        organizationId: org,
        name: 'x',
        scopes: ['READ_ONLY'],
      }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    await expect(
      keys().create(testbed.scope(anonymousCaller), {
        organizationId: org,
        name: 'x',
        scopes: ['READ_ONLY'],
      }),
    ).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  it('answers a non-member as if the organization did not exist', async () => {
    const org = organizationId();
    const stranger = userCaller({ [organizationId()]: 'OWNER' });
    const refused = await keys().create(testbed.scope(stranger), {
      organizationId: org,
      name: 'CI',
      scopes: ['READ_ONLY'],
    });
    expect(refused.userErrors).toMatchObject([{ field: ['input', 'organizationId'], code: 'NOT_FOUND' }]);
  });

  it('lets members see their own keys and admins every key of the organization', async () => {
    const org = organizationId();
    const admin = userCaller({ [org]: 'ADMIN' });
    const member = userCaller({ [org]: 'MEMBER' });
    const adminKey = (await createKey(admin, org, ['ADMIN'])).apiKey;
    const memberKey = (await createKey(member, org, ['DEPLOY'])).apiKey;

    expect(await keys().visible(testbed.scope(member), adminKey.id)).toBeNull();
    expect((await keys().visible(testbed.scope(member), memberKey.id))?.id).toBe(memberKey.id);
    expect((await keys().visible(testbed.scope(admin), memberKey.id))?.id).toBe(memberKey.id);

    const listed = await keys().ofOrganization(testbed.scope(member), org, { first: 10 });
    expect(listed.edges.map((edge) => edge.node.id)).toEqual([memberKey.id]);
    const all = await keys().ofOrganization(testbed.scope(admin), org, { first: 10 });
    expect(all.edges.map((edge) => edge.node.id)).toEqual([memberKey.id, adminKey.id]);
  });

  it('revokes once: a repeat returns the key unchanged and records no second event', async () => {
    const org = organizationId();
    const owner = userCaller({ [org]: 'OWNER' });
    const { apiKey, secret } = await createKey(owner, org, ['READ_ONLY']);
    const first = await keys().revoke(testbed.scope(owner), { id: apiKey.id });
    const again = await keys().revoke(testbed.scope(owner), { id: apiKey.id });
    expect(first.apiKey?.revokedAt).toBeInstanceOf(Date);
    expect(again.apiKey?.revokedAt).toEqual(first.apiKey?.revokedAt);
    expect(await keys().principal(testbed.scope(anonymousCaller), hashApiKey(secret))).toBeNull();
    const { rows } = await testbed.pool.query(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'platform-events' AND data->>'type' = 'api_key.revoked' AND data->'subjects'->>'apiKeyId' = $1`,
      [apiKey.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it('rotates with a grace period: both secrets work until it ends', async () => {
    const org = organizationId();
    const owner = userCaller({ [org]: 'OWNER' });
    const { apiKey, secret } = await createKey(owner, org, ['DEPLOY']);
    const rotated = await keys().rotate(testbed.scope(owner), { id: apiKey.id, expireOldInHours: 2 });
    expect(rotated.userErrors).toEqual([]);
    expect(rotated.previousApiKey?.replacedById).toBe(rotated.apiKey?.id);
    expect(await keys().principal(testbed.scope(anonymousCaller), hashApiKey(secret))).not.toBeNull();
    expect(
      await keys().principal(testbed.scope(anonymousCaller), hashApiKey(rotated.secret!)),
    ).not.toBeNull();

    const twice = await keys().rotate(testbed.scope(owner), { id: apiKey.id });
    expect(twice.userErrors).toMatchObject([{ code: 'CONFLICT' }]);
  });

  it(`holds at most ${MAX_ACTIVE_KEYS_PER_ORGANIZATION} active keys per organization, also when created at once`, async () => {
    const org = organizationId();
    const owner = userCaller({ [org]: 'OWNER' });
    const results = await Promise.all(
      Array.from({ length: MAX_ACTIVE_KEYS_PER_ORGANIZATION + 5 }, () =>
        keys().create(testbed.scope(owner), { organizationId: org, name: 'burst', scopes: ['READ_ONLY'] }),
      ),
    );
    expect(results.filter((r) => r.apiKey).length).toBe(MAX_ACTIVE_KEYS_PER_ORGANIZATION);
    expect(results.filter((r) => r.userErrors[0]?.code === 'LIMIT_REACHED').length).toBe(5);
  });
});
