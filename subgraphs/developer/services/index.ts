import type { Quota } from '../../common/quota';
import type { DeveloperScope } from '../storage';
import { type ApiKeysDependencies, createApiKeysService } from './api-keys';

/** The developer subgraph's services, built once in `index.ts`; resolvers reach them as `ctx.services`. */
export function createDeveloperServices(dependencies: ApiKeysDependencies) {
  return {
    apiKeys: createApiKeysService(dependencies),
    quota: {
      /** The caller's request budget as the gateway counted it for this request (none when limits are off). */
      viewer: (scope: DeveloperScope): Quota | null => scope.caller.quota ?? null,
    },
  };
}

export type DeveloperServices = ReturnType<typeof createDeveloperServices>;
