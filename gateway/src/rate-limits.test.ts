import { buildSchema, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationPoints } from './rate-limits';

// The shape of the supergraph's paged fields, small enough to read.
const schema = buildSchema(`
  type Query { viewer: User organization(slug: String!): Organization projects(first: Int, last: Int): ProjectPage }
  type Mutation { createProject(name: String!): Project }
  type Subscription { deploymentUpdated(id: ID!): Deployment }
  type User { id: ID! memberships(first: Int): MembershipPage }
  type MembershipPage { edges: [MembershipEdge!]! }
  type MembershipEdge { node: Membership! }
  type Membership { organization: Organization! }
  type Organization { id: ID! projects(first: Int, last: Int): ProjectPage }
  type ProjectPage { edges: [ProjectEdge!]! }
  type ProjectEdge { node: Project! }
  type Project { id: ID! deployments(first: Int): DeploymentPage }
  type DeploymentPage { edges: [DeploymentEdge!]! }
  type DeploymentEdge { node: Deployment! }
  type Deployment { id: ID! }
`);

const points = (query: string, variables?: Record<string, unknown>, operationName?: string) =>
  operationPoints(schema, parse(query), operationName, variables);

describe('operationPoints', () => {
  it('charges each root field: 1 for a read, 5 for a mutation, 1 for a subscription', () => {
    expect(points('{ viewer { id } }')).toBe(1);
    expect(points('{ viewer { id } organization(slug: "a") { id } }')).toBe(2);
    expect(points('mutation { createProject(name: "a") { id } }')).toBe(5);
    expect(points('subscription { deploymentUpdated(id: "1") { id } }')).toBe(1);
  });

  it('counts each alias, root fields brought by fragments, and a repeated key once', () => {
    expect(points('{ a: viewer { id } b: viewer { id } }')).toBe(2);
    expect(points('{ viewer { id } viewer { id } }')).toBe(1);
    expect(
      points('{ ...Root } fragment Root on Query { viewer { id } o: organization(slug: "a") { id } }'),
    ).toBe(2);
    expect(points('{ ... on Query { viewer { id } } }')).toBe(1);
  });

  it('lets introspection through for free', () => {
    expect(points('{ __schema { types { name } } __typename }')).toBe(0);
  });

  it('counts the operation named, not the others in the document', () => {
    const document = 'query One { viewer { id } } mutation Two { createProject(name: "a") { id } }';
    expect(points(document, {}, 'One')).toBe(1);
    expect(points(document, {}, 'Two')).toBe(5);
  });

  it('adds a point per 100 page fetches that nested lists may take', () => {
    const nested = (first: number) => `{ viewer { memberships(first: 100) { edges { node { organization {
      projects(first: ${first}) { edges { node { deployments(first: 100) { edges { node { id } } } } } } } } } } } }`;
    // 1 fetch of memberships, 100 of projects, 100 × 100 of deployments.
    expect(points(nested(100))).toBe(1 + Math.floor(10_101 / 100));
    // 1 + 100 + 100 × 5.
    expect(points(nested(5))).toBe(1 + 6);
    // A page of one list is one fetch: nothing more than the root field.
    expect(points('{ projects(first: 100) { edges { node { id } } } }')).toBe(1);
  });

  it('reads page sizes from variables and `last`, and uses the default page size when none is given', () => {
    const query = `query ($n: Int) { projects(last: $n) { edges { node { deployments(first: 100) { edges { node { id } } } } } } }`;
    expect(points(query, { n: 100 })).toBe(1 + Math.floor(101 / 100));
    expect(points(query, { n: 50 })).toBe(1 + Math.floor(51 / 100));
    // Absent, `projects` returns 20: 1 + 20 fetches.
    expect(points(query, {})).toBe(1);
    const deep = `{ viewer { memberships { edges { node { organization { projects { edges { node {
      deployments { edges { node { id } } } } } } } } } } } }`;
    // 1 + 20 + 20 × 20 = 421 fetches.
    expect(points(deep)).toBe(1 + 4);
  });

  it('follows fragments into lists and caps a page size at the largest page', () => {
    const query = `{ projects(first: 100000) { edges { node { ...P } } } }
      fragment P on Project { deployments(first: 100) { edges { node { id } } } }`;
    expect(points(query)).toBe(1 + Math.floor(101 / 100));
    const inline = `{ viewer { memberships(first: 100) { edges { node { organization {
      ... on Organization { projects(first: 100) { edges { node { id } } } } } } } } } }`;
    expect(points(inline)).toBe(1 + Math.floor(101 / 100));
  });

  it('walks each fragment once, however often a document spreads it', () => {
    // F30 spreads F29 twice, … F1 spreads F0 twice: 2^30 paths to one list, which a walk per
    // path would not finish within the test's timeout.
    const levels = Array.from({ length: 30 }, (_, i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`);
    const document = `{ ...F30 } fragment F0 on Query { projects(first: 1) { edges { node { id } } } } ${levels.join(' ')}`;
    expect(points(document)).toBe(1 + Math.floor(2 ** 30 / 100));
  });
});
