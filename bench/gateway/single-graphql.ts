/**
 * Guards against two copies of `graphql` in one process. The repository root and bench/ both have
 * a node_modules with graphql in it; if a bench process loaded a library resolving to the other
 * copy, graphql-js would throw "Cannot use GraphQLSchema from another module or realm" in
 * development, and in production (where that check is off) types could silently fail to match.
 * bench/package.json pins graphql and every graphql library these processes import, so that all of
 * them resolve inside bench/node_modules; this check proves it at start-up.
 */
import { createRequire } from 'node:module';

export function assertSingleGraphql(packages: readonly string[]): void {
  const require = createRequire(import.meta.url);
  const expected = require.resolve('graphql');
  const strays: string[] = [];
  for (const name of packages) {
    const actual = createRequire(require.resolve(name)).resolve('graphql');
    if (actual !== expected) strays.push(`${name} -> ${actual}`);
  }
  if (strays.length > 0) {
    throw new Error(
      `more than one graphql would be loaded (expected ${expected}):\n  ${strays.join('\n  ')}\n` +
        'run `npm --prefix bench install` and check bench/package.json',
    );
  }
}
