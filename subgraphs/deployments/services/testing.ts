import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ProjectRow } from '../../../db/deployments/schema';
import { newId } from '../../../db/ids';
import { type ServiceTestbed, startServices, uniqueSlug, useServices } from '../../../test/support/services';
import type { Caller } from '../../common/caller';
import { deployments } from '../index';
import type { DeploymentsLoaders } from '../storage';
import type { DeploymentsServices } from '.';
import type { CreateProjectInput } from './projects';

export type DeploymentsTestbed = ServiceTestbed<DeploymentsServices, DeploymentsLoaders>;

/**
 * Deployments' services as `setup` builds them (the engine and the edge included), building
 * under a folder of their own. `BUILDS_PER_ORGANIZATION=1`, so `holdBuildSlot` can keep what a
 * test queues QUEUED: service tests never build anything.
 */
export async function startDeploymentsServices(): Promise<DeploymentsTestbed> {
  const runtimeDir = await mkdtemp(join(tmpdir(), 'construct-deployments-'));
  const testbed = await startServices(deployments, {
    RUNTIME_DIR: runtimeDir,
    EDGE_PORT: '0',
    BUILDS_PER_ORGANIZATION: '1',
  });
  return {
    ...testbed,
    async close() {
      await testbed.close();
      await rm(runtimeDir, { recursive: true, force: true });
    },
  };
}

/** The file's testbed: started before its tests and closed after them. */
export const deploymentsTestbed = (): DeploymentsTestbed => useServices(startDeploymentsServices);

/** A project `caller` created in `organizationId` (failing the test if refused), with a repository. */
export async function createProject(
  testbed: DeploymentsTestbed,
  caller: Caller,
  organizationId: string,
  input: Partial<CreateProjectInput> = {},
): Promise<ProjectRow> {
  const slug = input.slug ?? uniqueSlug('app');
  const created = await testbed.services.projects.create(testbed.scope(caller), {
    organizationId,
    name: slug,
    slug,
    sourceUrl: 'https://git.example.com/team/app.git',
    ...input,
  });
  expect(created.userErrors).toEqual([]);
  return created.project!;
}

/**
 * Takes the organization's only build slot with a build another node runs (its lease held for
 * an hour): whatever the organization queues now stays QUEUED. Returns that build's ID.
 */
export async function holdBuildSlot(testbed: DeploymentsTestbed, project: ProjectRow): Promise<string> {
  const id = newId('dpl');
  await testbed.pool.query(
    `INSERT INTO deployments (id, project_id, organization_id, environment_id, creator_id, source_kind, env_encrypted, status, runner, lease_expires_at)
     SELECT $1, $2, $3, id, 'usr_elsewhere', 'GIT', 'v1.none', 'BUILDING', 'another-node', now() + interval '1 hour'
     FROM environments WHERE project_id = $2 AND name = 'production'`,
    [id, project.id, project.organizationId],
  );
  return id;
}
