import { describe, expect, it } from 'vitest';
import {
  anonymousCaller,
  apiKeyCaller,
  organizationId,
  queuedEvents,
  uniqueSlug,
  userCaller,
} from '../../../test/support/services';
import type { Caller } from '../../common/caller';
import { createProject, deploymentsTestbed } from './testing';

const testbed = deploymentsTestbed();

const projects = () => testbed.services.projects;

const creation = (organization: string, slug = uniqueSlug('app')) => ({
  organizationId: organization,
  name: 'Shop',
  slug,
});

describe('creating a project', () => {
  it('makes its production and preview environments and its event, in the transaction of the project', async () => {
    const org = organizationId();
    const member = userCaller({ [org]: 'MEMBER' });
    const project = await createProject(testbed, member, org);
    expect(project).toMatchObject({ organizationId: org, productionBranch: 'main', healthcheckPath: '/' });

    const environments = await testbed.services.environments.ofProject(testbed.scope(member), project);
    expect(environments.map((e) => [e.name, e.kind])).toEqual([
      ['production', 'PRODUCTION'],
      ['preview', 'PREVIEW'],
    ]);
    const events = await queuedEvents(testbed, 'project.created', { projectId: project.id });
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toMatchObject({
      slug: project.slug,
      url: projects().url(testbed.scope(member), project),
    });
    // now() is the transaction's clock: the same instant means the same transaction.
    expect(events[0]!.createdOn).toEqual(project.createdAt);
  });

  it('takes MEMBER or ADMIN, a person or a DEPLOY key; refuses VIEWER, and anonymous callers', async () => {
    const org = organizationId();
    for (const caller of [
      userCaller({ [org]: 'MEMBER' }),
      userCaller({ [org]: 'ADMIN' }),
      userCaller({ [org]: 'OWNER' }),
      apiKeyCaller(org, 'MEMBER'),
    ]) {
      expect((await projects().create(testbed.scope(caller), creation(org))).project).not.toBeNull();
    }
    await expect(
      projects().create(testbed.scope(userCaller({ [org]: 'VIEWER' })), creation(org)),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    await expect(
      projects().create(testbed.scope(apiKeyCaller(org, 'VIEWER')), creation(org)),
    ).rejects.toMatchObject({
      extensions: { code: 'FORBIDDEN' },
    });
    await expect(projects().create(testbed.scope(anonymousCaller), creation(org))).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('answers a non-member and a BILLING member as if the organization did not exist', async () => {
    const org = organizationId();
    for (const caller of [userCaller({ [organizationId()]: 'OWNER' }), userCaller({ [org]: 'BILLING' })]) {
      const refused = await projects().create(testbed.scope(caller), creation(org));
      expect(refused).toEqual({
        project: null,
        userErrors: [
          { field: ['input', 'organizationId'], message: 'No such organization.', code: 'NOT_FOUND' },
        ],
      });
    }
  });

  it('refuses a slug the organization already has, and invalid settings, naming the field', async () => {
    const org = organizationId();
    const member = userCaller({ [org]: 'MEMBER' });
    const first = await createProject(testbed, member, org);
    const taken = await projects().create(testbed.scope(member), creation(org, first.slug));
    expect(taken.userErrors).toMatchObject([{ field: ['input', 'slug'], code: 'TAKEN' }]);

    const invalid = await projects().create(testbed.scope(member), {
      ...creation(org),
      healthcheckPath: 'health',
      sourceUrl: 'ext::sh -c evil',
    });
    expect(invalid.project).toBeNull();
    expect(invalid.userErrors.map((e) => [e.field, e.code])).toEqual([
      [['input', 'sourceUrl'], 'INVALID'],
      [['input', 'healthcheckPath'], 'INVALID'],
    ]);
  });

  it('gives each project a host label no other organization’s project has, and none shaped like a deployment’s', async () => {
    const slug = uniqueSlug('shop');
    const [orgA, orgB] = [organizationId(), organizationId()];
    const a = await createProject(testbed, userCaller({ [orgA]: 'MEMBER' }), orgA, { slug });
    const b = await createProject(testbed, userCaller({ [orgB]: 'MEMBER' }), orgB, { slug });
    expect(a.hostLabel).toBe(slug);
    expect(b.slug).toBe(slug);
    expect(b.hostLabel).not.toBe(slug);
    expect(b.hostLabel.startsWith(`${slug}-`)).toBe(true);

    const deploymentLike = 'dpl-01jabcdefghjkmnpqrstvwxyz0';
    const c = await createProject(testbed, userCaller({ [orgA]: 'MEMBER' }), orgA, { slug: deploymentLike });
    expect(c.hostLabel).not.toBe(deploymentLike);
  });
});

describe('reading projects', () => {
  it('shows a project to its organization’s members from VIEWER up, and to nobody else', async () => {
    const org = organizationId();
    const project = await createProject(testbed, userCaller({ [org]: 'MEMBER' }), org);
    const sees = (caller: Caller) => projects().visible(testbed.scope(caller), project.id);
    expect((await sees(userCaller({ [org]: 'VIEWER' })))?.id).toBe(project.id);
    expect((await sees(apiKeyCaller(org, 'VIEWER')))?.id).toBe(project.id);
    expect(await sees(userCaller({ [org]: 'BILLING' }))).toBeNull();
    expect(await sees(userCaller({ [organizationId()]: 'OWNER' }))).toBeNull();
    expect(await sees(anonymousCaller)).toBeNull();
    expect(await sees(apiKeyCaller(organizationId(), 'ADMIN'))).toBeNull();
  });

  it('lists an organization’s projects oldest first, and finds one by organization and slug', async () => {
    const org = organizationId();
    const member = userCaller({ [org]: 'MEMBER' });
    const first = await createProject(testbed, member, org);
    const second = await createProject(testbed, member, org);
    const viewer = testbed.scope(userCaller({ [org]: 'VIEWER' }));
    const listed = await projects().ofOrganization(viewer, org, { first: 10 });
    expect(listed.edges.map((edge) => edge.node.id)).toEqual([first.id, second.id]);
    await expect(
      projects().ofOrganization(testbed.scope(userCaller({ [org]: 'BILLING' })), org, { first: 10 }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });

    const bySlug = await projects().reference(viewer, { organization: { id: org }, slug: second.slug });
    expect(bySlug?.id).toBe(second.id);
    const stranger = testbed.scope(userCaller({ [organizationId()]: 'OWNER' }));
    expect(await projects().reference(stranger, { organization: { id: org }, slug: second.slug })).toBeNull();
  });
});

describe('changing and deleting a project', () => {
  it('lets MEMBER change settings, keeping what is left out; refuses VIEWER', async () => {
    const org = organizationId();
    const member = userCaller({ [org]: 'MEMBER' });
    const project = await createProject(testbed, member, org, { buildCommand: 'npm run build:prod' });
    const updated = await projects().update(testbed.scope(member), {
      projectId: project.id,
      name: 'Renamed',
      healthcheckPath: '/healthz',
    });
    expect(updated.userErrors).toEqual([]);
    expect(updated.project).toMatchObject({
      name: 'Renamed',
      healthcheckPath: '/healthz',
      buildCommand: 'npm run build:prod',
      slug: project.slug,
    });
    // Blank resets a command to what detection picks.
    const reset = await projects().update(testbed.scope(member), { projectId: project.id, buildCommand: '' });
    expect(reset.project?.buildCommand).toBeNull();

    await expect(
      projects().update(testbed.scope(userCaller({ [org]: 'VIEWER' })), { projectId: project.id, name: 'x' }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const stranger = await projects().update(testbed.scope(userCaller({ [organizationId()]: 'OWNER' })), {
      projectId: project.id,
      name: 'x',
    });
    expect(stranger.userErrors).toMatchObject([{ field: ['input', 'projectId'], code: 'NOT_FOUND' }]);
  });

  it('takes ADMIN to delete; a deleted project is gone, its slug free and its deletion an event', async () => {
    const org = organizationId();
    const admin = userCaller({ [org]: 'ADMIN' });
    const project = await createProject(testbed, admin, org);
    await expect(
      projects().delete(testbed.scope(userCaller({ [org]: 'MEMBER' })), { projectId: project.id }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });

    expect(await projects().delete(testbed.scope(admin), { projectId: project.id })).toEqual({
      deletedProjectId: project.id,
      userErrors: [],
    });
    expect(await projects().visible(testbed.scope(admin), project.id)).toBeNull();
    const again = await projects().delete(testbed.scope(admin), { projectId: project.id });
    expect(again.userErrors).toMatchObject([{ field: ['input', 'projectId'], code: 'NOT_FOUND' }]);
    expect(await queuedEvents(testbed, 'project.deleted', { projectId: project.id })).toHaveLength(1);
    await createProject(testbed, admin, org, { slug: project.slug });
  });
});
