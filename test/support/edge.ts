import http from 'node:http';
import type { TestSupergraph } from './supergraph';

export interface EdgeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The deployment that answered (`x-construct-deployment-id`), if any. */
  deploymentId: string | undefined;
}

/**
 * GETs a path of an edge URL (`http://<label>.localhost:<port>`) as a browser would, but
 * connecting to 127.0.0.1 with the URL's host in the Host header: a test machine need not
 * resolve `*.localhost`.
 */
export function edgeGet(baseUrl: string, path = '/'): Promise<EdgeResponse> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const request = http.get(
      {
        host: '127.0.0.1',
        port: url.port,
        path: url.pathname + url.search,
        headers: { host: url.host },
        agent: false,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            deploymentId: response.headers['x-construct-deployment-id'] as string | undefined,
          }),
        );
      },
    );
    request.on('error', reject);
  });
}

const terminal = new Set(['READY', 'ERROR', 'CANCELED', 'CRASHED', 'REMOVED']);

export interface DeploymentState {
  id: string;
  status: string;
  url: string;
  errorMessage: string | null;
  errorStep: string | null;
  isProduction: boolean;
  commitSha: string | null;
  events: { step: string; outcome: string; durationMs: number | null }[];
}

export const DEPLOYMENT_FIELDS = /* GraphQL */ `
  id status url errorMessage errorStep isProduction commitSha
  events { step outcome durationMs }
`;

/** Polls a deployment through the gateway until it reaches `until` (any final status by default). */
export async function waitForDeployment(
  supergraph: TestSupergraph,
  headers: Record<string, string>,
  id: string,
  until: (status: string) => boolean = (status) => terminal.has(status),
  timeoutMs = 60_000,
): Promise<DeploymentState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await supergraph.query<{ deployment: DeploymentState | null }>(
      `query ($id: ID!) { deployment(id: $id) { ${DEPLOYMENT_FIELDS} } }`,
      { id },
      headers,
    );
    const deployment = body.data?.deployment;
    if (!deployment) throw new Error(`deployment ${id} not visible: ${JSON.stringify(body)}`);
    if (until(deployment.status)) return deployment;
    if (Date.now() > deadline) throw new Error(`deployment ${id} still ${deployment.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
