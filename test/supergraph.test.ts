import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrganization, createProjects, createUser, type TestUser } from './support/factories';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

let sut: TestSupergraph;
let owner: TestUser;
beforeAll(async () => {
  sut = await startTestSupergraph();
  owner = await createUser(sut.databases);
});
afterAll(() => sut?.close());

async function createProject(user: TestUser, organizationId: string, name: string, slug: string) {
  const { body } = await sut.query<{
    createProject: {
      project: { id: string } | null;
      userErrors: { field: string[]; message: string; code: string }[];
    };
  }>(
    'mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { id } userErrors { field message code } } }',
    { input: { organizationId, name, slug } },
    user.headers,
  );
  return body.data!.createProject;
}

describe('a query that crosses subgraphs, through the gateway', () => {
  it('returns an organization from accounts with its projects from deployments, and back', async () => {
    const organization = await createOrganization(sut.databases, [{ user: owner, role: 'OWNER' }], {
      slug: 'acme',
      name: 'Acme',
    });
    for (const slug of ['web', 'api', 'docs']) {
      expect((await createProject(owner, organization.id, slug.toUpperCase(), slug)).userErrors).toEqual([]);
    }

    const { status, body } = await sut.query(
      '{ organization(slug: "acme") { name projects(first: 10) { edges { node { name organization { slug } } } } } }',
      undefined,
      owner.headers,
    );

    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data).toEqual({
      organization: {
        name: 'Acme',
        projects: {
          edges: ['WEB', 'API', 'DOCS'].map((name) => ({ node: { name, organization: { slug: 'acme' } } })),
        },
      },
    });
  });

  it('pages through a connection with cursors, forwards and backwards', async () => {
    const organization = await createOrganization(sut.databases, [{ user: owner, role: 'OWNER' }], {
      slug: 'paged',
    });
    await createProjects(sut.databases, organization.id, ['proj-1', 'proj-2', 'proj-3', 'proj-4', 'proj-5']);
    type Page = {
      organization: {
        projects: { edges: { node: { slug: string } }[]; pageInfo: Record<string, unknown> };
      };
    };
    const page = async (args: string) =>
      (
        await sut.query<Page>(
          `{ organization(slug: "paged") { projects(${args}) { edges { node { slug } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`,
          undefined,
          owner.headers,
        )
      ).body.data!.organization.projects;
    const slugs = (connection: Page['organization']['projects']) => connection.edges.map((e) => e.node.slug);

    const first = await page('first: 2');
    expect(slugs(first)).toEqual(['proj-1', 'proj-2']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await page(`first: 2, after: "${first.pageInfo.endCursor}"`);
    expect(slugs(second)).toEqual(['proj-3', 'proj-4']);
    const last = await page(`first: 2, after: "${second.pageInfo.endCursor}"`);
    expect(slugs(last)).toEqual(['proj-5']);
    expect(last.pageInfo.hasNextPage).toBe(false);
    const before = await page(`last: 2, before: "${last.pageInfo.startCursor}"`);
    expect(slugs(before)).toEqual(['proj-3', 'proj-4']);
    expect(before.pageInfo.hasPreviousPage).toBe(true);
  });

  it('refuses a page larger than 100 and a cursor it never gave out, naming the argument', async () => {
    await createOrganization(sut.databases, [{ user: owner, role: 'OWNER' }], { slug: 'bounded' });
    const tooMany = await sut.query(
      '{ organization(slug: "bounded") { projects(first: 101) { edges { cursor } } } }',
      undefined,
      owner.headers,
    );
    expect(tooMany.body.errors?.[0]).toMatchObject({
      message: expect.stringContaining('`first`'),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const forged = await sut.query(
      '{ organization(slug: "bounded") { projects(after: "bm90LWEtY3Vyc29y") { edges { cursor } } } }',
      undefined,
      owner.headers,
    );
    expect(forged.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('returns invalid and conflicting project input as userErrors that name the field', async () => {
    const organization = await createOrganization(sut.databases, [{ user: owner, role: 'OWNER' }]);
    const invalid = await createProject(owner, organization.id, ' ', 'Not A Slug!');
    expect(invalid.project).toBeNull();
    expect(invalid.userErrors).toEqual([
      { field: ['input', 'name'], message: 'Must not be blank.', code: 'INVALID' },
      { field: ['input', 'slug'], message: expect.stringContaining('lowercase'), code: 'INVALID' },
    ]);

    await createProject(owner, organization.id, 'One', 'one-project');
    const duplicate = await createProject(owner, organization.id, 'One again', 'ONE-PROJECT');
    expect(duplicate.userErrors).toMatchObject([{ field: ['input', 'slug'], code: 'TAKEN' }]);
  });

  it('answers null, not an error, for an organization that does not exist', async () => {
    const { body } = await sut.query(
      '{ organization(slug: "nobody-here") { id } }',
      undefined,
      owner.headers,
    );
    expect(body).toEqual({ data: { organization: null } });
  });
});
