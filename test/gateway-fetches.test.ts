import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrganization, createProjects, createUser, type TestUser } from './support/factories';
import { startProxy } from './support/http-stubs';
import { startTestGateway, type TestGateway, writeTestSupergraph } from './support/processes';
import { postGraphQL, startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * Identical reads in flight at once share one subgraph fetch, per caller; mutations and other
 * callers' reads never do.
 */

let sut: TestSupergraph;
let gateway: TestGateway;
let deploymentsSpy: Awaited<ReturnType<typeof startProxy>>;
let ada: TestUser;
let bea: TestUser;

const PROJECTS = '{ organization(slug: SLUG) { projects { edges { node { slug } } } } }';

beforeAll(async () => {
  sut = await startTestSupergraph();
  // A slow deployments subgraph keeps concurrent requests in flight together.
  deploymentsSpy = await startProxy(sut.subgraphs.deployments.url, { delayMs: 150 });
  gateway = await startTestGateway(
    await writeTestSupergraph({ accounts: sut.subgraphs.accounts.url, deployments: deploymentsSpy.url }),
  );
  ada = await createUser(sut.databases, 'Ada');
  bea = await createUser(sut.databases, 'Bea');
  const adaOrg = await createOrganization(sut.databases, [{ user: ada, role: 'OWNER' }], { slug: 'ada-org' });
  const beaOrg = await createOrganization(sut.databases, [{ user: bea, role: 'OWNER' }], { slug: 'bea-org' });
  await createProjects(sut.databases, adaOrg.id, ['ada-app']);
  await createProjects(sut.databases, beaOrg.id, ['bea-app']);
});
afterAll(async () => {
  await gateway?.close();
  await deploymentsSpy?.close();
  await sut?.close();
});

const graphqlRequests = () => deploymentsSpy.requests.filter((r) => r.method === 'POST');

describe('subgraph fetches', () => {
  it('share one fetch among identical reads of one caller in flight together', async () => {
    await postGraphQL(gateway.url, '{ __typename }', undefined, ada.headers); // session lookup cached
    deploymentsSpy.requests.length = 0;
    const query = PROJECTS.replace('SLUG', '"ada-org"');
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => postGraphQL(gateway.url, query, undefined, ada.headers)),
    );
    for (const response of responses) {
      expect(response.body).toEqual({
        data: { organization: { projects: { edges: [{ node: { slug: 'ada-app' } }] } } },
      });
    }
    expect(graphqlRequests().length).toBeLessThan(10);
  });

  it('never share a read between two callers, even of the same data', async () => {
    const shared = await createOrganization(sut.databases, [
      { user: ada, role: 'OWNER' },
      { user: bea, role: 'VIEWER' },
    ]);
    await createProjects(sut.databases, shared.id, ['shared-app']);
    const query = PROJECTS.replace('SLUG', `"${shared.slug}"`);
    await Promise.all(
      [ada, bea].map((user) => postGraphQL(gateway.url, '{ __typename }', undefined, user.headers)),
    );
    deploymentsSpy.requests.length = 0;
    const responses = await Promise.all([
      postGraphQL(gateway.url, query, undefined, ada.headers),
      postGraphQL(gateway.url, query, undefined, bea.headers),
    ]);
    for (const response of responses) expect(JSON.stringify(response.body)).toContain('shared-app');
    expect(graphqlRequests()).toHaveLength(2);
  });

  it('never share a mutation: each runs once per request', async () => {
    const organization = await createOrganization(sut.databases, [{ user: ada, role: 'OWNER' }]);
    deploymentsSpy.requests.length = 0;
    const mutation =
      'mutation ($input: CreateProjectInput!) { createProject(input: $input) { project { slug } userErrors { code } } }';
    const input = { input: { organizationId: organization.id, name: 'Twice', slug: 'twice' } };
    const [first, second] = await Promise.all([
      postGraphQL<{ createProject: { userErrors: { code: string }[] } }>(
        gateway.url,
        mutation,
        input,
        ada.headers,
      ),
      postGraphQL<{ createProject: { userErrors: { code: string }[] } }>(
        gateway.url,
        mutation,
        input,
        ada.headers,
      ),
    ]);
    expect(graphqlRequests()).toHaveLength(2);
    const codes = [first, second].map((r) => r.body.data?.createProject.userErrors.map((e) => e.code));
    expect(codes).toContainEqual([]);
    expect(codes).toContainEqual(['TAKEN']);
  });
});
