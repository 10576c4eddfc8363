import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type EventsTestbed,
  platformEvent,
  startEventsServices,
} from '../../../test/support/events-services';
import { anonymousCaller, apiKeyCaller, organizationId, userCaller } from '../../../test/support/services';
import type { Caller } from '../../common/caller';
import type { PlatformEvent } from '../../common/platform-events';

let testbed: EventsTestbed;
beforeAll(async () => {
  testbed = await startEventsServices();
});
afterAll(() => testbed?.close());

const log = () => testbed.services.events;

/** Records `batch` as a relay would deliver it. */
async function record(...batch: PlatformEvent[]) {
  await testbed.services.ingest.record(batch);
  return batch;
}

const idsOf = async (
  caller: Caller,
  org: string,
  args: { types?: string[]; first?: number; after?: string } = {},
) =>
  (await log().ofOrganization(testbed.scope(caller), { organizationId: org, ...args })).edges.map(
    (e) => e.node.id,
  );

describe('the event log service', () => {
  it('shows an organization’s log to its members from VIEWER up, and to no one else', async () => {
    const org = organizationId();
    const [event] = await record(platformEvent(org));
    await record(platformEvent(organizationId()));

    expect(await idsOf(userCaller({ [org]: 'VIEWER' }), org)).toEqual([event!.id]);
    expect(await idsOf(apiKeyCaller(org, 'VIEWER'), org)).toEqual([event!.id]);
    const billing = testbed.scope(userCaller({ [org]: 'BILLING' }));
    await expect(log().ofOrganization(billing, { organizationId: org })).rejects.toMatchObject({
      extensions: { code: 'NOT_FOUND' },
    });
    const stranger = testbed.scope(userCaller({ [organizationId()]: 'OWNER' }));
    await expect(log().ofOrganization(stranger, { organizationId: org })).rejects.toMatchObject({
      extensions: { code: 'NOT_FOUND' },
    });
    await expect(
      log().ofOrganization(testbed.scope(anonymousCaller), { organizationId: org }),
    ).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  it('filters by type, and refuses unknown types naming the argument', async () => {
    const org = organizationId();
    const viewer = userCaller({ [org]: 'VIEWER' });
    const [created, ready] = await record(
      platformEvent(org, { type: 'project.created' }),
      platformEvent(org, { type: 'deployment.ready' }),
    );
    expect(await idsOf(viewer, org, { types: ['deployment.ready'] })).toEqual([ready!.id]);
    expect(await idsOf(viewer, org, { types: ['project.created', 'deployment.ready'] })).toEqual([
      ready!.id,
      created!.id,
    ]);
    expect(await idsOf(viewer, org, { types: [] })).toEqual([]);
    await expect(idsOf(viewer, org, { types: ['spaceship.launched'] })).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', argument: 'types' },
    });
  });

  it('pages newest first by cursor, and a page stays put as new events arrive', async () => {
    const org = organizationId();
    const viewer = userCaller({ [org]: 'VIEWER' });
    const batch = await record(...[1, 2, 3, 4, 5].map((n) => platformEvent(org, { payload: { n } })));
    const newestFirst = batch.map((e) => e.id).reverse();

    const first = await log().ofOrganization(testbed.scope(viewer), { organizationId: org, first: 2 });
    expect(first.edges.map((e) => e.node.id)).toEqual(newestFirst.slice(0, 2));
    expect(first.pageInfo.hasNextPage).toBe(true);
    await record(platformEvent(org));
    const after = first.pageInfo.endCursor!;
    expect(await idsOf(viewer, org, { first: 2, after })).toEqual(newestFirst.slice(2, 4));
    expect(await idsOf(viewer, org, { first: 10, after })).toEqual(newestFirst.slice(2));
  });

  it('gives one event by id to its organization’s readers, and null to everyone else', async () => {
    const org = organizationId();
    const [event] = await record(
      platformEvent(org, { type: 'deployment.ready', payload: { url: 'https://x' } }),
    );
    const found = await log().visible(testbed.scope(userCaller({ [org]: 'VIEWER' })), event!.id);
    expect(found).toMatchObject({
      id: event!.id,
      type: 'deployment.ready',
      organizationId: org,
      payload: { url: 'https://x' },
    });
    expect(found!.occurredAt.toISOString()).toBe(event!.occurredAt);
    expect(
      await log().visible(testbed.scope(userCaller({ [organizationId()]: 'OWNER' })), event!.id),
    ).toBeNull();
    expect(await log().visible(testbed.scope(anonymousCaller), event!.id)).toBeNull();
    expect(await log().visible(testbed.scope(userCaller({ [org]: 'VIEWER' })), 'evt_missing')).toBeNull();
  });

  it('follows an organization’s new events of the types asked for, and refuses at once who may not read them', async () => {
    const org = organizationId();
    const viewer = testbed.scope(userCaller({ [org]: 'VIEWER' }));
    const stream = log().published(viewer, { organizationId: org, types: ['deployment.ready'] });
    const next = stream.next();
    const [, ready] = await record(
      platformEvent(org, { type: 'project.created' }),
      platformEvent(org, { type: 'deployment.ready' }),
      platformEvent(organizationId(), { type: 'deployment.ready' }),
    );
    expect((await next).value).toMatchObject({
      id: ready!.id,
      type: 'deployment.ready',
      organizationId: org,
    });
    await stream.return(undefined);

    const stranger = testbed.scope(userCaller({ [organizationId()]: 'OWNER' }));
    expect(() => log().published(stranger, { organizationId: org })).toThrow(
      expect.objectContaining({ extensions: { code: 'NOT_FOUND' } }),
    );
    expect(() => log().published(viewer, { organizationId: org, types: ['nope'] })).toThrow(
      expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', argument: 'types' } }),
    );
  });

  it('lists every event type with its meaning, to anyone', () => {
    const types = log().types(testbed.scope(anonymousCaller));
    expect(types).toContainEqual({
      name: 'webhook.test',
      description: expect.stringContaining('sendTestWebhook'),
    });
    expect(types.map((t) => t.name)).toContain('deployment.ready');
  });
});
