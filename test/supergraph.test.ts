import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

let sut: TestSupergraph;
beforeAll(async () => {
  sut = await startTestSupergraph();
});
afterAll(() => sut?.close());

async function createOrganization(name: string, slug: string) {
  const { body } = await sut.query<{
    createOrganization: { organization: { id: string } | null; userErrors: unknown[] };
  }>(
    'mutation ($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } userErrors { field message code } } }',
    { input: { name, slug } },
  );
  return body.data!.createOrganization;
}

async function createProject(organizationId: string, name: string, slug: string) {
  const { body } = await sut.query<{
    createProject: { project: { id: string } | null; userErrors: { field: string[]; code: string }[] };
  }>(
    'mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { id } userErrors { field message code } } }',
    { input: { organizationId, name, slug } },
  );
  return body.data!.createProject;
}

describe('a query that crosses subgraphs, through the gateway', () => {
  it('returns an organization from accounts with its projects from deployments, and back', async () => {
    const organization = await createOrganization('Acme', 'acme');
    expect(organization.userErrors).toEqual([]);
    const orgId = organization.organization!.id;
    for (const slug of ['web', 'api', 'docs']) {
      expect((await createProject(orgId, slug.toUpperCase(), slug)).userErrors).toEqual([]);
    }

    const { status, body } = await sut.query(
      '{ organization(slug: "acme") { name projects(first: 10) { edges { node { name organization { slug } } } } } }',
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
    const orgId = (await createOrganization('Paged', 'paged')).organization!.id;
    for (let i = 1; i <= 5; i++)
      expect((await createProject(orgId, `P${i}`, `proj-${i}`)).userErrors).toEqual([]);
    type Page = {
      organization: { projects: { edges: { node: { name: string } }[]; pageInfo: Record<string, unknown> } };
    };
    const page = async (args: string) =>
      (
        await sut.query<Page>(
          `{ organization(slug: "paged") { projects(${args}) { edges { node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`,
        )
      ).body.data!.organization.projects;

    const first = await page('first: 2');
    expect(first.edges.map((e) => e.node.name)).toEqual(['P1', 'P2']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await page(`first: 2, after: "${first.pageInfo.endCursor}"`);
    expect(second.edges.map((e) => e.node.name)).toEqual(['P3', 'P4']);
    const last = await page(`first: 2, after: "${second.pageInfo.endCursor}"`);
    expect(last.edges.map((e) => e.node.name)).toEqual(['P5']);
    expect(last.pageInfo.hasNextPage).toBe(false);
    const before = await page(`last: 2, before: "${last.pageInfo.startCursor}"`);
    expect(before.edges.map((e) => e.node.name)).toEqual(['P3', 'P4']);
    expect(before.pageInfo.hasPreviousPage).toBe(true);
  });

  it('refuses a page larger than 100 and a cursor it never gave out, naming the argument', async () => {
    await createOrganization('Bounded', 'bounded');
    const tooMany = await sut.query(
      '{ organization(slug: "bounded") { projects(first: 101) { edges { cursor } } } }',
    );
    expect(tooMany.body.errors?.[0]).toMatchObject({
      message: expect.stringContaining('`first`'),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const forged = await sut.query(
      '{ organization(slug: "bounded") { projects(after: "bm90LWEtY3Vyc29y") { edges { cursor } } } }',
    );
    expect(forged.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('returns validation failures and conflicts as userErrors that name the field', async () => {
    const invalid = await createOrganization(' ', 'Not A Slug!');
    expect(invalid.organization).toBeNull();
    expect(invalid.userErrors).toEqual([
      { field: ['input', 'name'], message: 'Must not be blank.', code: 'INVALID' },
      { field: ['input', 'slug'], message: expect.stringContaining('lowercase'), code: 'INVALID' },
    ]);

    await createOrganization('Taken', 'taken');
    const taken = await createOrganization('Taken again', 'TAKEN');
    expect(taken.userErrors).toEqual([
      { field: ['input', 'slug'], message: 'This slug is taken.', code: 'TAKEN' },
    ]);

    const orgId = (await createOrganization('Dup', 'dup')).organization!.id;
    await createProject(orgId, 'One', 'one');
    const duplicate = await createProject(orgId, 'One again', 'one');
    expect(duplicate.userErrors).toMatchObject([{ field: ['input', 'slug'], code: 'TAKEN' }]);
  });

  it('answers null, not an error, for an organization that does not exist', async () => {
    const { body } = await sut.query('{ organization(slug: "nobody-here") { id } }');
    expect(body).toEqual({ data: { organization: null } });
  });
});
