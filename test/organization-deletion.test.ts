import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Caller } from '../subgraphs/common/caller';
import { gatewayHeaders } from './support/credentials';
import { edgeGet, waitForDeployment } from './support/edge';
import { eventually, postBatch, signedBatch, sql } from './support/events-helpers';
import { createUser, type TestUser } from './support/factories';
import { createGitRepository, type GitRepository } from './support/git-fixtures';
import { postGraphQL, startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * Deleting an organization takes its projects with it, across subgraphs that never read each
 * other's tables: accounts deletes the organization and emits `organization.deleted` in the same
 * transaction; the events subgraph records it and forwards it to deployments, which deletes the
 * projects, stops their apps and emits `project.deleted` for each. Nothing here posts an event.
 */

let supergraph: TestSupergraph;
let owner: TestUser;
let repository: GitRepository;

beforeAll(async () => {
  supergraph = await startTestSupergraph({}, { HEALTHCHECK_TIMEOUT_SECONDS: '10' });
  owner = await createUser(supergraph.databases, 'Dana Deleter');
  repository = await createGitRepository('static-site');
});

afterAll(async () => {
  await supergraph?.close();
  await repository?.cleanup();
});

async function mutate<T>(query: string, input: Record<string, unknown>) {
  const { body } = await supergraph.query<Record<string, T & { userErrors: unknown[] }>>(
    query,
    { input },
    owner.headers,
  );
  const payload = Object.values(body.data ?? {})[0];
  expect(payload?.userErrors, JSON.stringify(body)).toEqual([]);
  return payload as T;
}

const deploymentsOrigin = () => new URL(supergraph.subgraphs.deployments.url).origin;

const CREATE_ORGANIZATION = `mutation ($input: CreateOrganizationInput!) {
  createOrganization(input: $input) { organization { id } userErrors { field message code } }
}`;
const DELETE_ORGANIZATION = `mutation ($input: DeleteOrganizationInput!) {
  deleteOrganization(input: $input) { deletedOrganizationId userErrors { field message code } }
}`;

/** A new organization of the owner's with one project, deployed and READY. */
async function organizationWithAnApp(name: string, slug: string) {
  const { organization } = await mutate<{ organization: { id: string } }>(CREATE_ORGANIZATION, {
    name,
    slug,
  });
  const { project } = await mutate<{ project: { id: string } }>(
    `mutation ($input: CreateProjectInput!) {
      createProject(input: $input) { project { id } userErrors { field message code } }
    }`,
    { organizationId: organization.id, name: 'site', slug: 'site', sourceUrl: repository.url },
  );
  const { deployment } = await mutate<{ deployment: { id: string } }>(
    `mutation ($input: CreateDeploymentInput!) {
      createDeployment(input: $input) { deployment { id } userErrors { field message code } }
    }`,
    { projectId: project.id },
  );
  const ready = await waitForDeployment(supergraph, owner.headers, deployment.id);
  expect(ready.status).toBe('READY');
  return { organization, project, deployment: ready };
}

/** The deployment's status and whether its project is deleted, read from deployments' tables. */
async function stateOf(deploymentId: string) {
  const [row] = await sql<{ status: string; deleted: boolean }>(
    supergraph.databases.deployments,
    `SELECT d.status, p.deleted_at IS NOT NULL AS deleted
     FROM deployments d JOIN projects p ON p.id = d.project_id WHERE d.id = $1`,
    [deploymentId],
  );
  return row;
}

describe('deleting an organization', () => {
  test('deletes its projects: the app stops answering and each deletion is an event', async () => {
    const { organization, project, deployment } = await organizationWithAnApp('Short-lived', 'short-lived');
    expect((await edgeGet(deployment.url)).status).toBe(200);

    await mutate(DELETE_ORGANIZATION, { organizationId: organization.id });

    // The URL goes dark, the deployment is REMOVED and the project is gone.
    await eventually('the deployment URL to stop answering', async () =>
      (await edgeGet(deployment.url)).status === 404 ? true : undefined,
    );
    expect(await stateOf(deployment.id)).toEqual({ status: 'REMOVED', deleted: true });

    // The log has the organization's deletion, by its owner, and the project's, by the platform.
    const events = await eventually('both deletions in the event log', async () => {
      const rows = await sql<{
        type: string;
        actor_kind: string;
        actor_user_id: string | null;
        payload: object;
      }>(
        supergraph.databases.events,
        `SELECT type, actor_kind, actor_user_id, payload FROM events
         WHERE organization_id = $1 AND type IN ('organization.deleted', 'project.deleted') ORDER BY seq`,
        [organization.id],
      );
      return rows.length === 2 ? rows : undefined;
    });
    expect(events).toEqual([
      {
        type: 'organization.deleted',
        actor_kind: 'user',
        actor_user_id: owner.id,
        payload: { organizationId: organization.id, name: 'Short-lived', slug: 'short-lived', members: 1 },
      },
      {
        type: 'project.deleted',
        actor_kind: 'system',
        actor_user_id: null,
        payload: expect.objectContaining({ projectId: project.id, reason: 'organization.deleted' }),
      },
    ]);

    // A gateway that still remembers the membership (its cache, without Redis) cannot put a
    // project back into the deleted organization: deployments itself refuses.
    const stale: Caller = {
      kind: 'user',
      userId: owner.id,
      sessionId: owner.sessionId,
      memberships: { [organization.id]: 'OWNER' },
    };
    const { body } = await postGraphQL<{ createProject: { project: unknown; userErrors: unknown[] } }>(
      supergraph.subgraphs.deployments.url,
      `mutation ($input: CreateProjectInput!) {
        createProject(input: $input) { project { id } userErrors { field message code } }
      }`,
      { input: { organizationId: organization.id, name: 'again', slug: 'again' } },
      await gatewayHeaders('deployments', stale),
    );
    expect(body.data?.createProject).toEqual({
      project: null,
      userErrors: [
        { field: ['input', 'organizationId'], message: 'No such organization.', code: 'NOT_FOUND' },
      ],
    });

    // The slug is free again, in a new organization of the same name.
    const again = await mutate<{ organization: { id: string } }>(CREATE_ORGANIZATION, {
      name: 'Short-lived',
      slug: 'short-lived',
    });
    expect(again.organization.id).not.toBe(organization.id);
  });

  test('reaches deployments even when it was down at the time, once it is back', async () => {
    const { organization, deployment } = await organizationWithAnApp('Outage', 'outage');

    await supergraph.stopSubgraph('deployments');
    try {
      await mutate(DELETE_ORGANIZATION, { organizationId: organization.id });
      // Recorded, and forwarded in vain for a while: deployments is not there to take it.
      await eventually('organization.deleted in the log', async () => {
        const rows = await sql(
          supergraph.databases.events,
          `SELECT 1 FROM events WHERE organization_id = $1 AND type = 'organization.deleted'`,
          [organization.id],
        );
        return rows.length === 1 ? true : undefined;
      });
      await new Promise((resolve) => setTimeout(resolve, 2500));
    } finally {
      await supergraph.restartSubgraph('deployments');
    }

    const state = await eventually('the project deleted after the restart', async () => {
      const row = await stateOf(deployment.id);
      return row?.deleted ? row : undefined;
    });
    expect(state).toEqual({ status: 'REMOVED', deleted: true });
  });

  test('is acted on once by deployments, however often it arrives, and only when signed', async () => {
    const event = {
      id: 'evt_repeated0000000000000000000000',
      type: 'organization.deleted',
      organizationId: 'org_nothing_left_here',
      actor: { kind: 'system', userId: null, apiKeyId: null },
      source: 'accounts',
      subjects: { organizationId: 'org_nothing_left_here' },
      payload: {},
      occurredAt: new Date().toISOString(),
    };
    for (let i = 0; i < 2; i++) {
      const answer = await postBatch(deploymentsOrigin(), signedBatch([event]));
      expect(answer).toMatchObject({ status: 200, json: { received: 1, projectsDeleted: 0 } });
    }
    const forged = await postBatch(
      deploymentsOrigin(),
      signedBatch([event], { secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` }),
    );
    expect(forged.status).toBe(401);
    expect(forged.json).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });
});
