import type { ProjectRow } from '../../../db/deployments/schema';
import type { DeploymentsSettings } from '../config';
import { deploymentLabel, type EdgeAddress, edgeUrl } from '../runtime/hostnames';

/**
 * The public URLs of what the edge serves: every deployment at its own label, every project at
 * its host label, on the edge's public address.
 */
export function createUrls(
  settings: Pick<
    DeploymentsSettings,
    'EDGE_PUBLIC_SCHEME' | 'EDGE_BASE_DOMAIN' | 'EDGE_PUBLIC_PORT' | 'EDGE_PORT'
  >,
) {
  let edgePort: number | null = null;

  const address = (): EdgeAddress => ({
    scheme: settings.EDGE_PUBLIC_SCHEME,
    baseDomain: settings.EDGE_BASE_DOMAIN,
    port: settings.EDGE_PUBLIC_PORT ?? edgePort ?? settings.EDGE_PORT,
  });

  return {
    address,
    deploymentUrl: (deploymentId: string) => edgeUrl(deploymentLabel(deploymentId), address()),
    projectUrl: (project: Pick<ProjectRow, 'hostLabel'>) => edgeUrl(project.hostLabel, address()),
    /** The port the edge listens on once it does (EDGE_PORT may be 0: any free port). */
    setEdgePort(port: number) {
      edgePort = port;
    },
  };
}

export type Urls = ReturnType<typeof createUrls>;
