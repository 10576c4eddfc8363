/**
 * The environment of a user's commands and app. It is built from scratch, never from
 * `process.env`: Construct's own database URL, keys and tokens must not reach code it did not
 * write. Only PATH comes from the host, so that `npm` and `node` are found; the app's own
 * node_modules/.bin goes first, so a command like `vite build` works as it does on Vercel.
 */

import { join } from 'node:path';
import { machinePath } from '../../../common/config';

export interface EnvironmentPaths {
  /** The app's folder (the source plus its root directory). */
  app: string;
  /** The deployment's own home directory (caches and dotfiles of tools land there). */
  home: string;
  /** npm's download cache, shared by every deployment so installs stay fast. */
  npmCache: string;
}

function base(paths: EnvironmentPaths): Record<string, string> {
  return {
    PATH: `${join(paths.app, 'node_modules', '.bin')}:${machinePath()}`,
    HOME: paths.home,
    npm_config_cache: paths.npmCache,
  };
}

/** For install and build commands: tools read CI=1 as "no prompts, no spinners". */
export function buildEnvironment(
  paths: EnvironmentPaths,
  env: Record<string, string>,
): Record<string, string> {
  return { ...base(paths), CI: '1', ...env };
}

/** For the running app; PORT is ours to choose, whatever the deployment's variables say. */
export function appEnvironment(
  paths: EnvironmentPaths,
  env: Record<string, string>,
  port: number,
): Record<string, string> {
  return { ...base(paths), NODE_ENV: 'production', ...env, PORT: String(port) };
}
