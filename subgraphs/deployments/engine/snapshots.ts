import type { DeploymentRow } from '../../../db/deployments/schema';
import type { Encryptor } from '../../common/encryption';
import type { Urls } from './urls';

/** How a deployment's environment snapshot is bound, so it decrypts for that deployment only. */
const envContext = (deploymentId: string) => `deployment-env:${deploymentId}`;

/**
 * A deployment's environment snapshot: the environment's variables as they were when it was
 * created, encrypted with the deployment, so a restart runs it with the values it was built with.
 */
export function createSnapshots({ encryptor, urls }: { encryptor: Encryptor; urls: Urls }) {
  const decrypt = (deployment: DeploymentRow) =>
    JSON.parse(encryptor.decrypt(deployment.envEncrypted, envContext(deployment.id))) as Record<
      string,
      string
    >;

  return {
    encrypt(deploymentId: string, env: Record<string, string>): string {
      return encryptor.encrypt(JSON.stringify(env), envContext(deploymentId));
    },

    /** What the deployment's build and app run with: its snapshot and Construct's own variables. */
    runEnvironment(deployment: DeploymentRow, environmentName: string): Record<string, string> {
      return {
        ...decrypt(deployment),
        CONSTRUCT_DEPLOYMENT_ID: deployment.id,
        CONSTRUCT_ENVIRONMENT: environmentName,
        CONSTRUCT_DEPLOYMENT_URL: urls.deploymentUrl(deployment.id),
        ...(deployment.commitSha ? { CONSTRUCT_GIT_COMMIT_SHA: deployment.commitSha } : {}),
      };
    },

    /** Values the logs must never show: every variable the user set for the environment. */
    secretsOf(deployment: DeploymentRow): string[] {
      try {
        return Object.values(decrypt(deployment));
      } catch {
        return [];
      }
    },
  };
}

export type Snapshots = ReturnType<typeof createSnapshots>;
