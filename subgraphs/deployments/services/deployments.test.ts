import { describe, expect, it } from 'vitest';
import type { DeploymentRow, ProjectRow } from '../../../db/deployments/schema';
import { newId } from '../../../db/ids';
import {
  anonymousCaller,
  apiKeyCaller,
  organizationId,
  queuedEvents,
  userCaller,
} from '../../../test/support/services';
import type { Caller } from '../../common/caller';
import { createProject, deploymentsTestbed, holdBuildSlot } from './testing';

const testbed = deploymentsTestbed();

const deployments = () => testbed.services.deployments;

/** A fresh organization's project whose deployments stay QUEUED (its build slot is taken). */
async function queuingProject(input: Partial<Parameters<typeof createProject>[3]> = {}) {
  const org = organizationId();
  const member = userCaller({ [org]: 'MEMBER' });
  const project = await createProject(testbed, member, org, input);
  const slotHolder = await holdBuildSlot(testbed, project);
  return { org, member, project, slotHolder };
}

async function deploy(
  caller: Caller,
  project: ProjectRow,
  input: { environment?: string; ref?: string } = {},
) {
  const created = await deployments().create(testbed.scope(caller), { projectId: project.id, ...input });
  expect(created.userErrors).toEqual([]);
  return created.deployment!;
}

/** What a finished pipeline leaves (the runtime itself is not under test here). */
async function markReady(deployment: DeploymentRow, commitSha: string | null = null) {
  await testbed.pool.query(
    `UPDATE deployments SET status = 'READY', ready_at = now(), commit_sha = $2 WHERE id = $1`,
    [deployment.id, commitSha],
  );
}

/** The project as a fresh request of its owner reads it. */
const projectNow = (project: ProjectRow) =>
  testbed.services.projects.visible(
    testbed.scope(userCaller({ [project.organizationId]: 'OWNER' })),
    project.id,
  );

describe('creating a deployment', () => {
  it('queues it with its pipeline job and its deployment.created event, in one transaction', async () => {
    const { member, project } = await queuingProject();
    await testbed.services.environments.setVariables(testbed.scope(member), {
      projectId: project.id,
      environment: 'production',
      variables: [{ key: 'API_TOKEN', value: 'tok-0123456789' }],
    });
    const deployment = await deploy(member, project);
    expect(deployment).toMatchObject({ status: 'QUEUED', sourceKind: 'GIT', ref: 'main', attempt: 0 });

    const { rows } = await testbed.pool.query(
      'SELECT created_at, env_encrypted FROM deployments WHERE id = $1',
      [deployment.id],
    );
    const created: Date = rows[0].created_at;
    // The environment's variables are snapshotted, encrypted.
    expect(rows[0].env_encrypted).toMatch(/^v1\./);
    expect(rows[0].env_encrypted).not.toContain('tok-0123456789');

    const jobs = await testbed.pool.query(
      `SELECT created_on, singleton_key FROM pgboss.job WHERE name = 'deployment-pipeline' AND data->>'deploymentId' = $1`,
      [deployment.id],
    );
    expect(jobs.rows).toHaveLength(1);
    expect(jobs.rows[0].singleton_key).toBe(deployment.id);
    const events = await queuedEvents(testbed, 'deployment.created', { deploymentId: deployment.id });
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toMatchObject({
      environment: 'production',
      url: deployments().url(testbed.scope(member), deployment),
    });
    // now() is the transaction's clock: the row, its job and its event share one instant.
    expect(jobs.rows[0].created_on).toEqual(created);
    expect(events[0]!.createdOn).toEqual(created);
  });

  it('deploys the production branch to production and any other ref to preview, unless told', async () => {
    const { member, project } = await queuingProject();
    const environmentOf = async (deployment: DeploymentRow) =>
      (await testbed.services.environments.ofDeployment(testbed.scope(member), deployment)).name;
    expect(await environmentOf(await deploy(member, project))).toBe('production');
    expect(await environmentOf(await deploy(member, project, { ref: 'feature/login' }))).toBe('preview');
    expect(await environmentOf(await deploy(member, project, { environment: 'Preview' }))).toBe('preview');

    const unknown = await deployments().create(testbed.scope(member), {
      projectId: project.id,
      environment: 'qa',
    });
    expect(unknown.userErrors).toMatchObject([{ field: ['input', 'environment'], code: 'NOT_FOUND' }]);
    const badRef = await deployments().create(testbed.scope(member), {
      projectId: project.id,
      ref: '--upload-pack=x',
    });
    expect(badRef.userErrors).toMatchObject([{ field: ['input', 'ref'], code: 'INVALID' }]);

    const { member: other, project: uploadsOnly } = await queuingProject({ sourceUrl: '' });
    const noRepository = await deployments().create(testbed.scope(other), { projectId: uploadsOnly.id });
    expect(noRepository.userErrors).toMatchObject([{ field: ['input', 'projectId'], code: 'CONFLICT' }]);
  });

  it('takes MEMBER or a DEPLOY key; VIEWER is FORBIDDEN, strangers and BILLING find no project', async () => {
    const { org, project } = await queuingProject();
    await deploy(userCaller({ [org]: 'ADMIN' }), project);
    await deploy(apiKeyCaller(org, 'MEMBER'), project);
    for (const caller of [userCaller({ [org]: 'VIEWER' }), apiKeyCaller(org, 'VIEWER')]) {
      await expect(
        deployments().create(testbed.scope(caller), { projectId: project.id }),
      ).rejects.toMatchObject({
        extensions: { code: 'FORBIDDEN' },
      });
    }
    for (const caller of [userCaller({ [org]: 'BILLING' }), apiKeyCaller(organizationId(), 'ADMIN')]) {
      const refused = await deployments().create(testbed.scope(caller), { projectId: project.id });
      expect(refused).toEqual({
        deployment: null,
        userErrors: [{ field: ['input', 'projectId'], message: 'No such project.', code: 'NOT_FOUND' }],
      });
    }
    await expect(
      deployments().create(testbed.scope(anonymousCaller), { projectId: project.id }),
    ).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  it('deploys an upload only once it was received, and only the project’s own', async () => {
    const { org, member, project } = await queuingProject();
    await expect(
      testbed.services.uploads.create(testbed.scope(userCaller({ [org]: 'VIEWER' })), {
        projectId: project.id,
      }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const { upload } = await testbed.services.uploads.create(testbed.scope(member), {
      projectId: project.id,
    });
    expect(upload?.url).toContain(`/uploads/${upload!.id}?token=`);

    const fromUpload = (target: ProjectRow, uploadId: string) =>
      deployments().createFromUpload(testbed.scope(member), { projectId: target.id, uploadId });
    expect((await fromUpload(project, upload!.id)).userErrors).toMatchObject([
      { field: ['input', 'uploadId'], code: 'CONFLICT' },
    ]);
    const sibling = await createProject(testbed, member, org);
    expect((await fromUpload(sibling, upload!.id)).userErrors).toMatchObject([
      { field: ['input', 'uploadId'], code: 'NOT_FOUND' },
    ]);
  });
});

describe('reading deployments', () => {
  it('shows a deployment to its organization from VIEWER up, and lists a project’s newest first', async () => {
    const { org, member, project, slotHolder } = await queuingProject();
    const first = await deploy(member, project);
    const second = await deploy(member, project, { ref: 'feature/x' });
    const viewer = testbed.scope(userCaller({ [org]: 'VIEWER' }));
    expect((await deployments().visible(viewer, first.id))?.id).toBe(first.id);
    for (const caller of [
      userCaller({ [org]: 'BILLING' }),
      userCaller({ [organizationId()]: 'OWNER' }),
      anonymousCaller,
    ]) {
      expect(await deployments().visible(testbed.scope(caller), first.id)).toBeNull();
    }
    expect(await deployments().visible(viewer, 'dpl_nope')).toBeNull();

    const ids = async (args: Parameters<ReturnType<typeof deployments>['ofProject']>[2]) =>
      (await deployments().ofProject(viewer, project, args)).edges.map((edge) => edge.node.id);
    expect(await ids({ first: 10 })).toEqual([second.id, first.id, slotHolder]);
    expect(await ids({ first: 10, environment: 'preview' })).toEqual([second.id]);
    expect(await ids({ first: 10, environment: 'staging' })).toEqual([]);
    expect(await ids({ first: 10, status: ['BUILDING'] })).toEqual([slotHolder]);
  });

  it('lists what a user deployed, in the organizations the caller sees projects of only', async () => {
    const userId = newId('usr');
    const a = await queuingProject();
    const b = await queuingProject();
    const inA = await deploy(userCaller({ [a.org]: 'MEMBER' }, userId), a.project);
    await deploy(userCaller({ [b.org]: 'MEMBER' }, userId), b.project);
    const listed = await deployments().ofCreator(testbed.scope(userCaller({ [a.org]: 'VIEWER' })), userId, {
      first: 10,
    });
    expect(listed.edges.map((edge) => edge.node.id)).toEqual([inA.id]);
  });
});

describe('canceling', () => {
  it('cancels a queued deployment once, with its event; then it is a CONFLICT', async () => {
    const { org, member, project } = await queuingProject();
    const deployment = await deploy(member, project);
    await expect(
      deployments().cancel(testbed.scope(userCaller({ [org]: 'VIEWER' })), { deploymentId: deployment.id }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    const stranger = await deployments().cancel(testbed.scope(userCaller({ [organizationId()]: 'OWNER' })), {
      deploymentId: deployment.id,
    });
    expect(stranger.userErrors).toMatchObject([{ field: ['input', 'deploymentId'], code: 'NOT_FOUND' }]);

    const canceled = await deployments().cancel(testbed.scope(member), { deploymentId: deployment.id });
    expect(canceled.deployment).toMatchObject({ id: deployment.id, status: 'CANCELED' });
    expect(canceled.deployment?.finishedAt).toBeInstanceOf(Date);
    expect(await queuedEvents(testbed, 'deployment.canceled', { deploymentId: deployment.id })).toHaveLength(
      1,
    );

    const again = await deployments().cancel(testbed.scope(member), { deploymentId: deployment.id });
    expect(again.userErrors).toMatchObject([
      {
        field: ['input', 'deploymentId'],
        code: 'CONFLICT',
        message: 'Only queued or building deployments can be canceled; this one is CANCELED.',
      },
    ]);
  });
});

describe('production', () => {
  it('is served by a READY deployment only; promotion unpins, rollback pins, each an event', async () => {
    const { org, member, project } = await queuingProject();
    const older = await deploy(member, project);
    const queued = await deploy(member, project);
    const promote = (deployment: DeploymentRow) =>
      deployments().promote(testbed.scope(member), { deploymentId: deployment.id });
    expect((await promote(queued)).userErrors).toMatchObject([
      { code: 'CONFLICT', message: 'Only a READY deployment can serve production; this one is QUEUED.' },
    ]);
    expect((await projectNow(project))?.productionDeploymentId).toBeNull();
    await expect(
      deployments().promote(testbed.scope(userCaller({ [org]: 'VIEWER' })), { deploymentId: older.id }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });

    await markReady(older);
    await markReady(queued);
    expect((await promote(queued)).userErrors).toEqual([]);
    expect(await projectNow(project)).toMatchObject({
      productionDeploymentId: queued.id,
      productionPinned: false,
    });

    const rollback = (deployment: DeploymentRow) =>
      deployments().rollback(testbed.scope(member), { projectId: project.id, deploymentId: deployment.id });
    expect((await rollback(older)).userErrors).toEqual([]);
    expect(await projectNow(project)).toMatchObject({
      productionDeploymentId: older.id,
      productionPinned: true,
    });
    expect((await rollback(older)).userErrors).toMatchObject([
      { code: 'CONFLICT', message: 'This deployment already serves production.' },
    ]);

    const promoted = await queuedEvents(testbed, 'deployment.promoted', { projectId: project.id });
    expect(promoted.map((event) => [event.payload.deploymentId, event.payload.rollback])).toEqual([
      [queued.id, false],
      [older.id, true],
    ]);
    expect(promoted[1]!.payload.previousDeploymentId).toBe(queued.id);
  });

  it('is rolled back to an earlier production deployment of the project only', async () => {
    const { member, project } = await queuingProject();
    const preview = await deploy(member, project, { ref: 'feature/x' });
    await markReady(preview);
    const rollback = (projectId: string, deploymentId: string) =>
      deployments().rollback(testbed.scope(member), { projectId, deploymentId });
    expect((await rollback(project.id, preview.id)).userErrors).toMatchObject([
      {
        code: 'CONFLICT',
        message:
          'A rollback returns to an earlier production deployment; promote a preview deployment instead.',
      },
    ]);
    const sibling = await createProject(testbed, member, project.organizationId);
    expect((await rollback(sibling.id, preview.id)).userErrors).toMatchObject([
      { field: ['input', 'deploymentId'], code: 'NOT_FOUND' },
    ]);
    // A preview deployment is promoted instead.
    expect(
      (await deployments().promote(testbed.scope(member), { deploymentId: preview.id })).userErrors,
    ).toEqual([]);
    expect((await projectNow(project))?.productionDeploymentId).toBe(preview.id);
  });

  it('is redeployed from the very commit the deployment ran', async () => {
    const { member, project } = await queuingProject();
    const ran = await deploy(member, project, { ref: 'feature/x' });
    const sha = 'a'.repeat(40);
    await markReady(ran, sha);
    const redeployed = await deployments().redeploy(testbed.scope(member), { deploymentId: ran.id });
    expect(redeployed.deployment).toMatchObject({
      status: 'QUEUED',
      ref: sha,
      redeployOf: ran.id,
      environmentId: ran.environmentId,
    });
  });
});

describe('following a deployment', () => {
  it('gives it now, then again after each change, read afresh each time', async () => {
    const { org, member, project } = await queuingProject();
    const deployment = await deploy(member, project);
    await markReady(deployment);
    const follower = testbed.scope(userCaller({ [org]: 'VIEWER' }));
    const stream = (await deployments().follow(follower, deployment.id))[Symbol.asyncIterator]();
    try {
      const first = await stream.next();
      expect(first.value).toMatchObject({ id: deployment.id, status: 'READY' });
      expect(await deployments().isProduction(follower, first.value!)).toBe(false);

      const next = stream.next(); // listening before the change
      await new Promise((resolve) => setImmediate(resolve));
      await deployments().promote(testbed.scope(member), { deploymentId: deployment.id });
      const changed = await next;
      expect(changed.value?.id).toBe(deployment.id);
      // The follower's loaders cached the project before the promotion: they must not answer now.
      expect(await deployments().isProduction(follower, changed.value!)).toBe(true);
    } finally {
      await stream.return?.(undefined);
    }
  });

  it('is refused to strangers (as if it did not exist) and to anonymous callers', async () => {
    const { member, project } = await queuingProject();
    const deployment = await deploy(member, project);
    await expect(
      deployments().follow(testbed.scope(userCaller({ [organizationId()]: 'OWNER' })), deployment.id),
    ).rejects.toMatchObject({ extensions: { code: 'NOT_FOUND' } });
    await expect(deployments().follow(testbed.scope(anonymousCaller), deployment.id)).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
    await expect(
      deployments().followProject(testbed.scope(userCaller({ [organizationId()]: 'OWNER' })), project.id),
    ).rejects.toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  });
});
