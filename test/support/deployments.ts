import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { DEPLOYMENT_FIELDS, type DeploymentState, waitForDeployment } from './edge';
import type { TestUser } from './factories';
import { createGitRepository, type GitRepository, type GitRepositoryOptions, git } from './git-fixtures';
import { type GraphQLResponse, type TestSupergraph, USER_ERRORS, type UserErrorData } from './supergraph';

/**
 * What the deployments tests do over and over through the gateway, as a user of one
 * organization: create projects, deploy, read logs, set variables. Each helper that is not
 * the subject of a test asserts it succeeded, so a broken precondition fails where it broke.
 */

export interface ProjectResult {
  id: string;
  url: string;
}

export interface LogLine {
  sequence: number;
  type: 'BUILD' | 'RUNTIME';
  stream: 'STDOUT' | 'STDERR' | 'SYSTEM';
  message: string;
}

interface LogPage {
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { node: LogLine }[];
}

export interface VariableResult {
  id: string;
  key: string;
  preview: string;
  createdAt: string;
  updatedAt: string;
}

export const VARIABLE_FIELDS = 'id key preview createdAt updatedAt';

export class DeploymentsClient {
  constructor(
    readonly supergraph: TestSupergraph,
    readonly user: TestUser,
    readonly organizationId: string,
  ) {}

  /** The same organization, as another of its users (or a stranger). */
  as(user: TestUser): DeploymentsClient {
    return new DeploymentsClient(this.supergraph, user, this.organizationId);
  }

  query<T>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
    return this.supergraph.query<T>(query, variables, this.user.headers);
  }

  /** Runs a one-field mutation with `$input` and returns its payload; GraphQL errors fail the test. */
  async mutate<T>(
    mutation: string,
    inputType: string,
    selection: string,
    input: Record<string, unknown>,
  ): Promise<T> {
    const { body } = await this.query<Record<string, T>>(
      `mutation ($input: ${inputType}!) { ${mutation}(input: $input) { ${selection} } }`,
      { input },
    );
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    return body.data![mutation]!;
  }

  createProject(input: Record<string, unknown>) {
    return this.mutate<{ project: ProjectResult | null; userErrors: UserErrorData[] }>(
      'createProject',
      'CreateProjectInput',
      `project { id url } ${USER_ERRORS}`,
      { organizationId: this.organizationId, name: input.slug, ...input },
    );
  }

  /** A project that must be accepted. */
  async project(
    slug: string,
    sourceUrl: string | null,
    extra: Record<string, unknown> = {},
  ): Promise<ProjectResult> {
    const result = await this.createProject({ slug, sourceUrl, ...extra });
    expect(result.userErrors, JSON.stringify(result)).toEqual([]);
    return result.project!;
  }

  createDeployment(input: Record<string, unknown>) {
    return this.mutate<{ deployment: DeploymentState | null; userErrors: UserErrorData[] }>(
      'createDeployment',
      'CreateDeploymentInput',
      `deployment { ${DEPLOYMENT_FIELDS} } ${USER_ERRORS}`,
      input,
    );
  }

  /** Queues a deployment that must be accepted. */
  async deploy(projectId: string, input: Record<string, unknown> = {}): Promise<DeploymentState> {
    const result = await this.createDeployment({ projectId, ...input });
    expect(result.userErrors, JSON.stringify(result)).toEqual([]);
    return result.deployment!;
  }

  /** Polls until the deployment reaches a status `until` accepts (a final one by default). */
  waitFor(id: string, until?: (status: string) => boolean, timeoutMs = 40_000): Promise<DeploymentState> {
    return waitForDeployment(this.supergraph, this.user.headers, id, until, timeoutMs);
  }

  /** Deploys and waits for the deployment to end. */
  async deployAndWait(projectId: string, input: Record<string, unknown> = {}): Promise<DeploymentState> {
    return this.waitFor((await this.deploy(projectId, input)).id);
  }

  deploymentMutation(mutation: string, deploymentId: string) {
    return this.mutate<{ deployment: DeploymentState | null; userErrors: UserErrorData[] }>(
      mutation,
      'DeploymentIdInput',
      `deployment { ${DEPLOYMENT_FIELDS} } ${USER_ERRORS}`,
      { deploymentId },
    );
  }

  /** Every log line of the deployment, oldest first, page after page. */
  async logs(deploymentId: string, type?: 'BUILD' | 'RUNTIME'): Promise<LogLine[]> {
    const lines: LogLine[] = [];
    let after: string | null = null;
    for (;;) {
      const { body }: GraphQLResponse<{ deployment: { logs: LogPage } | null }> = await this.query(
        `query ($id: ID!, $type: DeploymentLogType, $after: String) {
          deployment(id: $id) {
            logs(type: $type, first: 100, after: $after) {
              pageInfo { hasNextPage endCursor }
              edges { node { sequence type stream message } }
            }
          }
        }`,
        { id: deploymentId, type: type ?? null, after },
      );
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      const page: LogPage = body.data!.deployment!.logs;
      lines.push(...page.edges.map((edge) => edge.node));
      if (!page.pageInfo.hasNextPage) return lines;
      after = page.pageInfo.endCursor;
    }
  }

  /**
   * The deployment's lines once one satisfies `found`: lines are written in batches a moment
   * after the status they explain, so a test that reads them right after a status waits a little.
   */
  async logsUntil(
    deploymentId: string,
    type: 'BUILD' | 'RUNTIME' | undefined,
    found: (lines: LogLine[]) => boolean,
    timeoutMs = 10_000,
  ): Promise<LogLine[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = await this.logs(deploymentId, type);
      if (found(lines)) return lines;
      if (Date.now() > deadline) {
        throw new Error(`the logs of ${deploymentId} never showed it:\n${lines.map(format).join('\n')}`);
      }
      await sleep(100);
    }
  }

  setVariables(projectId: string, environment: string, variables: Record<string, string>) {
    return this.mutate<{ variables: VariableResult[]; userErrors: UserErrorData[] }>(
      'setEnvironmentVariables',
      'SetEnvironmentVariablesInput',
      `variables { ${VARIABLE_FIELDS} } ${USER_ERRORS}`,
      {
        projectId,
        environment,
        variables: Object.entries(variables).map(([key, value]) => ({ key, value })),
      },
    );
  }

  /** Variables that must be accepted. */
  async setVariablesOk(projectId: string, environment: string, variables: Record<string, string>) {
    const result = await this.setVariables(projectId, environment, variables);
    expect(result.userErrors, JSON.stringify(result)).toEqual([]);
    return result.variables;
  }
}

/** A log line as a person reads it, for failure messages. */
export function format(line: LogLine): string {
  return `${line.sequence} ${line.type} ${line.stream} ${line.message}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The pipeline's record as [step, outcome] pairs, the way a dashboard lists it. */
export function stepsOf(deployment: DeploymentState): [string, string][] {
  return deployment.events.map((event) => [event.step, event.outcome]);
}

/** Git repositories of sample apps, deleted together at the end of a file. */
export function repositories() {
  const made: GitRepository[] = [];
  return {
    async create(fixture: string, options?: GitRepositoryOptions): Promise<GitRepository> {
      const repository = await createGitRepository(fixture, options);
      made.push(repository);
      return repository;
    },
    cleanup: () => Promise.all(made.map((repository) => repository.cleanup())),
  };
}

/** Commits a symbolic link `path` → `target` on the repository's current branch; returns the new commit. */
export async function commitSymlink(
  repository: GitRepository,
  path: string,
  target: string,
): Promise<string> {
  await mkdir(dirname(join(repository.path, path)), { recursive: true });
  await symlink(target, join(repository.path, path));
  await git(repository.path, ['add', '--', path]);
  await git(repository.path, ['commit', '--quiet', '-m', `Link ${path} to ${target}`]);
  return (await git(repository.path, ['rev-parse', 'HEAD'])).trim();
}

/**
 * A branch off the current one with one commit of `files` (path → content); the work tree goes
 * back to the branch it was on. Returns the branch's commit.
 */
export async function commitBranch(
  repository: GitRepository,
  branch: string,
  files: Record<string, string>,
): Promise<string> {
  await git(repository.path, ['checkout', '--quiet', '-b', branch]);
  for (const [file, content] of Object.entries(files)) {
    await mkdir(dirname(join(repository.path, file)), { recursive: true });
    await writeFile(join(repository.path, file), content);
  }
  await git(repository.path, ['add', '--all']);
  await git(repository.path, ['commit', '--quiet', '-m', `Change on ${branch}`]);
  const sha = (await git(repository.path, ['rev-parse', 'HEAD'])).trim();
  await git(repository.path, ['checkout', '--quiet', repository.branch]);
  return sha;
}

export { type EdgeResponse as EdgeAnswer, edgeGet as edgeRequest } from './edge';

/** The pids of processes whose command line contains `marker` (pgrep -f), none of them this test's own. */
export function processesMatching(marker: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    // pgrep exits 1 when nothing matches.
    return [];
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(
      { host: '127.0.0.1', port, path: '/', agent: false, timeout: 1000 },
      (response) => {
        response.resume();
        resolve(true);
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}
