import { describe, expect, it } from 'vitest';
import { organizationId, queuedEvents, uniqueSlug, userCaller } from '../../../test/support/services';
import { SYSTEM_ACTOR } from '../../common/caller';
import type { PlatformEvent } from '../../common/platform-events';
import { createProject, deploymentsTestbed, holdBuildSlot } from './testing';

const testbed = deploymentsTestbed();

/** `organization.deleted` as the events subgraph forwards it from accounts. */
const organizationDeleted = (organization: string): PlatformEvent => ({
  id: `evt_${crypto.randomUUID().replaceAll('-', '')}`,
  type: 'organization.deleted',
  organizationId: organization,
  actor: SYSTEM_ACTOR,
  source: 'accounts',
  subjects: { organizationId: organization },
  payload: {},
  occurredAt: new Date().toISOString(),
});

const received = (events: PlatformEvent[]) => testbed.services.organizations.received(events);

describe('an organization deleted in accounts', () => {
  it('takes its projects along: each a project.deleted event, their deployments REMOVED; other organizations keep theirs', async () => {
    const [org, other] = [organizationId(), organizationId()];
    const owner = userCaller({ [org]: 'OWNER', [other]: 'OWNER' });
    const projects = [await createProject(testbed, owner, org), await createProject(testbed, owner, org)];
    const kept = await createProject(testbed, owner, other);
    const building = await holdBuildSlot(testbed, projects[0]!);
    await testbed.services.deployments.create(testbed.scope(owner), { projectId: projects[0]!.id });

    expect(await received([organizationDeleted(org)])).toEqual({ projectsDeleted: 2 });

    const scope = testbed.scope(owner);
    for (const project of projects) {
      expect(await testbed.services.projects.visible(scope, project.id)).toBeNull();
      const events = await queuedEvents(testbed, 'project.deleted', { projectId: project.id });
      expect(events.map((event) => event.payload.reason)).toEqual(['organization.deleted']);
    }
    expect((await testbed.services.projects.visible(scope, kept.id))?.id).toBe(kept.id);
    const { rows } = await testbed.pool.query(
      'SELECT DISTINCT status FROM deployments WHERE project_id = $1',
      [projects[0]!.id],
    );
    expect(rows).toEqual([{ status: 'REMOVED' }]);
    expect((await testbed.services.deployments.visible(scope, building))?.status).toBe('REMOVED');
  });

  it('is acted on once, however often it arrives', async () => {
    const org = organizationId();
    const project = await createProject(testbed, userCaller({ [org]: 'OWNER' }), org);
    const event = organizationDeleted(org);
    expect(await received([event, event])).toEqual({ projectsDeleted: 1 });
    expect(await received([event])).toEqual({ projectsDeleted: 0 });
    expect(await queuedEvents(testbed, 'project.deleted', { projectId: project.id })).toHaveLength(1);
  });

  it('takes no project any more, even from a caller whose credential still lists the membership', async () => {
    const org = organizationId();
    await received([organizationDeleted(org)]);
    const slug = uniqueSlug('late');
    const refused = await testbed.services.projects.create(testbed.scope(userCaller({ [org]: 'OWNER' })), {
      organizationId: org,
      name: 'Too late',
      slug,
    });
    expect(refused).toEqual({
      project: null,
      userErrors: [
        { field: ['input', 'organizationId'], message: 'No such organization.', code: 'NOT_FOUND' },
      ],
    });
    const { rows } = await testbed.pool.query('SELECT count(*)::int AS n FROM projects WHERE slug = $1', [
      slug,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('leaves events of other types alone', async () => {
    const org = organizationId();
    const project = await createProject(testbed, userCaller({ [org]: 'OWNER' }), org);
    expect(await received([{ ...organizationDeleted(org), type: 'member.removed' }])).toEqual({
      projectsDeleted: 0,
    });
    expect(
      await testbed.services.projects.visible(testbed.scope(userCaller({ [org]: 'VIEWER' })), project.id),
    ).not.toBeNull();
  });
});
