import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CompositionError, composeSupergraph } from '../gateway/src/composition';
import { testEnvironment } from './support/environment';

/**
 * `npm run compose:check` guards the checked-in schema/ in CI: it passes when schema/ matches
 * the subgraphs' code and fails, naming the file, when it does not. It runs here on a copy of
 * supergraph.yaml and schema/ (`--root`), so no test ever touches the real files.
 */

const repositoryRoot = resolve(import.meta.dirname, '..');

function copyOfSchemaFolder(): string {
  const root = mkdtempSync(join(tmpdir(), 'construct-compose-'));
  cpSync(join(repositoryRoot, 'supergraph.yaml'), join(root, 'supergraph.yaml'));
  cpSync(join(repositoryRoot, 'schema'), join(root, 'schema'), { recursive: true });
  return root;
}

async function compose(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/compose.ts', ...args],
      { cwd: repositoryRoot, env: { ...testEnvironment.inherited(), NODE_ENV: 'test' } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout,
      stderr: failed.stderr,
    };
  }
}

describe('npm run compose:check', () => {
  it('passes on the checked-in schema/, fails naming the one stale file, and compose rewrites a missing one', async () => {
    const upToDate = copyOfSchemaFolder();
    const stale = copyOfSchemaFolder();
    const missing = copyOfSchemaFolder();
    try {
      const deploymentsSdl = join(stale, 'schema', 'deployments.graphql');
      const edited = readFileSync(deploymentsSdl, 'utf8')
        // Remove the field `Project.slug`, with its description.
        .replace(/\n\s*"""Handle, unique within the organization[^\n]*"""\n\s*slug: String!\n/, '\n');
      expect(edited).not.toBe(readFileSync(deploymentsSdl, 'utf8'));
      writeFileSync(deploymentsSdl, edited);
      rmSync(join(missing, 'schema', 'deployments.graphql'));

      // Each run loads every subgraph's code: run them side by side.
      const [passing, failing, written] = await Promise.all([
        compose('--check', '--root', upToDate),
        compose('--check', '--root', stale),
        compose('--root', missing),
      ]);

      expect(passing).toMatchObject({ code: 0, stdout: expect.stringContaining('schema/ is up to date.') });

      expect(failing.code).not.toBe(0);
      expect(failing.stderr).toContain('Generated schema is out of date: schema/deployments.graphql.');
      expect(failing.stderr).toContain('npm run compose');
      expect(failing.stderr).not.toMatch(/accounts\.graphql|supergraph\.graphql/);
      expect(readFileSync(deploymentsSdl, 'utf8')).toBe(edited); // a check never writes

      expect(written).toMatchObject({ code: 0, stdout: 'wrote schema/deployments.graphql\n' });
      expect(readFileSync(join(missing, 'schema', 'deployments.graphql'), 'utf8')).toBe(
        readFileSync(join(repositoryRoot, 'schema', 'deployments.graphql'), 'utf8'),
      );
    } finally {
      for (const root of [upToDate, stale, missing]) rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('composition errors', () => {
  const federation = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])';

  it('name the subgraphs and the field when two subgraphs define one non-shareable field', () => {
    const sdl = `${federation}\ntype Query { greeting: String }`;
    let thrown: unknown;
    try {
      composeSupergraph([
        { name: 'alpha', url: 'http://alpha.invalid/graphql', sdl },
        { name: 'beta', url: 'http://beta.invalid/graphql', sdl },
      ]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CompositionError);
    const { message, problems } = thrown as CompositionError;
    expect(problems).toHaveLength(1);
    expect(message).toMatch(/^Composition failed:\n {2}- INVALID_FIELD_SHARING: /);
    expect(message).toContain('"Query.greeting"');
    expect(message).toMatch(/"alpha" and "beta"/);
  });

  it('name the subgraph whose schema does not parse', () => {
    expect(() =>
      composeSupergraph([
        {
          name: 'alpha',
          url: 'http://alpha.invalid/graphql',
          sdl: `${federation}\ntype Query { ok: String }`,
        },
        { name: 'broken', url: 'http://broken.invalid/graphql', sdl: 'type Query {' },
      ]),
    ).toThrow(/\[broken\] the schema does not parse: Syntax Error/);
  });

  it('compose two compatible subgraphs into one supergraph that joins both', () => {
    const supergraph = composeSupergraph([
      { name: 'alpha', url: 'http://alpha.invalid/graphql', sdl: `${federation}\ntype Query { a: String }` },
      { name: 'beta', url: 'http://beta.invalid/graphql', sdl: `${federation}\ntype Query { b: String }` },
    ]);
    expect(supergraph).toMatch(
      /ALPHA @join__graph\(name: "alpha", url: "http:\/\/alpha\.invalid\/graphql"\)/,
    );
    expect(supergraph).toMatch(/BETA @join__graph\(name: "beta", url: "http:\/\/beta\.invalid\/graphql"\)/);
    expect(supergraph).toMatch(/a: String @join__field\(graph: ALPHA\)/);
  });
});
