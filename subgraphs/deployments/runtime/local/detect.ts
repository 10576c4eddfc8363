import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type BuildOutput, type CommandOverrides, StepFailure } from '../runtime';

/** How a built app runs: a command of its own, or a folder the runtime serves. */
export type RunPlan = Pick<BuildOutput, 'framework' | 'startCommand' | 'staticDirectory'>;

/** What a detector decided about an app before it is installed and built. */
export interface AppPlan {
  /** For the build logs: "a Node.js app (package-lock.json)". */
  description: string;
  install: string | null;
  build: string | null;
  /**
   * Called after the build (whose output may be what decides, e.g. `dist/index.html`): how the
   * app runs, or null when there is no telling.
   */
  resolveRun(): Promise<RunPlan | null>;
}

/**
 * Recognises one kind of app from its files. Detectors are tried in order and the first that
 * answers wins, so supporting another language is one more detector in the list.
 */
export interface Detector {
  readonly name: string;
  /** Null when the app is not of this detector's kind; throws StepFailure when it is but is broken. */
  detect(appDir: string, overrides: CommandOverrides): Promise<AppPlan | null>;
}

export const CANNOT_TELL =
  'Could not tell how to run this app: add a "start" script to package.json, set the project’s start command, or add an index.html.';

/** Where builds of static sites usually put their output, most specific first; '.' is the app's root. */
const STATIC_OUTPUT_DIRECTORIES = ['dist', 'build', 'out', 'public', '.'];

interface PackageJson {
  scripts: Record<string, unknown>;
  main: unknown;
}

export const nodeDetector: Detector = {
  name: 'node',
  async detect(appDir, overrides) {
    const manifest = await readPackageJson(appDir);
    if (!manifest) return null;
    const lockfile =
      (await isFile(join(appDir, 'package-lock.json'))) ||
      (await isFile(join(appDir, 'npm-shrinkwrap.json')));
    const buildScript = typeof manifest.scripts.build === 'string';
    return {
      description: `a Node.js app${lockfile ? ' (package-lock.json)' : ''}`,
      // `npm ci` installs exactly what the lockfile says, and refuses a lockfile out of date.
      install:
        overrides.install ?? (lockfile ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund'),
      build: overrides.build ?? (buildScript ? 'npm run build' : null),
      async resolveRun() {
        if (overrides.start) return processPlan(overrides.start);
        if (typeof manifest.scripts.start === 'string') return processPlan('npm start');
        if (
          typeof manifest.main === 'string' &&
          manifest.main !== '' &&
          (await isMainPresent(appDir, manifest.main))
        ) {
          return processPlan(
            `node ${shellQuote(manifest.main.startsWith('-') ? `./${manifest.main}` : manifest.main)}`,
          );
        }
        for (const file of ['server.js', 'index.js']) {
          if (await isFile(join(appDir, file))) return processPlan(`node ${file}`);
        }
        return findStaticSite(appDir, STATIC_OUTPUT_DIRECTORIES);
      },
    };
  },
};

export const staticDetector: Detector = {
  name: 'static',
  async detect(appDir, overrides) {
    if (!(await isFile(join(appDir, 'index.html')))) return null;
    return {
      description: 'a static site',
      install: overrides.install,
      build: overrides.build,
      async resolveRun() {
        if (overrides.start) return processPlan(overrides.start);
        // Without a build, the files as they are make the site; a build may have written elsewhere.
        return findStaticSite(appDir, overrides.build ? STATIC_OUTPUT_DIRECTORIES : ['.']);
      },
    };
  },
};

export const defaultDetectors: readonly Detector[] = [nodeDetector, staticDetector];

/**
 * The plan of the first detector that recognises the app. An app no detector knows can still
 * be deployed with commands of the project's own.
 */
export async function detectApp(
  appDir: string,
  overrides: CommandOverrides,
  detectors: readonly Detector[] = defaultDetectors,
): Promise<AppPlan> {
  for (const detector of detectors) {
    const plan = await detector.detect(appDir, overrides);
    if (plan) return plan;
  }
  return {
    description: 'an app with the project’s own commands',
    install: overrides.install,
    build: overrides.build,
    async resolveRun() {
      if (overrides.start) return processPlan(overrides.start);
      return findStaticSite(appDir, STATIC_OUTPUT_DIRECTORIES);
    },
  };
}

function processPlan(startCommand: string): RunPlan {
  // Framework has no value for "any command": what matters is that the app runs as a process.
  return { framework: 'NODE', startCommand, staticDirectory: null };
}

async function findStaticSite(appDir: string, candidates: readonly string[]): Promise<RunPlan | null> {
  for (const directory of candidates) {
    if (await isFile(join(appDir, directory, 'index.html'))) {
      return { framework: 'STATIC', startCommand: null, staticDirectory: directory };
    }
  }
  return null;
}

async function readPackageJson(appDir: string): Promise<PackageJson | null> {
  const path = join(appDir, 'package.json');
  if (!(await isFile(path))) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new StepFailure('INSTALL', `package.json is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new StepFailure('INSTALL', 'package.json must hold a JSON object.');
  }
  const { scripts, main } = parsed as Record<string, unknown>;
  if (scripts !== undefined && (typeof scripts !== 'object' || scripts === null || Array.isArray(scripts))) {
    throw new StepFailure('INSTALL', 'The "scripts" field of package.json must be an object.');
  }
  return { scripts: (scripts as Record<string, unknown> | undefined) ?? {}, main };
}

/** Whether `node <main>` would find something to run, as Node resolves it. */
async function isMainPresent(appDir: string, main: string): Promise<boolean> {
  const path = join(appDir, main);
  return (await isFile(path)) || (await isFile(`${path}.js`)) || (await isFile(join(path, 'index.js')));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** `word` stays as it is; anything else is single-quoted for /bin/sh. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./-]+$/.test(word) && !word.startsWith('-')) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
