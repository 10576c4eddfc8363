import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatewaySettings } from '../gateway/src/config';
import { subgraphSettings } from '../subgraphs/common/config';
import { subgraphNames, subgraphs } from '../subgraphs/registry';

/** Variables `.env.example` documents that no settings definition reads, and who reads them. */
const READ_ELSEWHERE: Record<string, string> = {
  APOLLO_TELEMETRY_DISABLED: "Apollo's own libraries",
  TEST_DATABASE_URL: 'the tests (test/support/environment.ts)',
};

/** Every `NAME=` line of .env.example: the variables it documents. */
function documented(): string[] {
  const text = readFileSync(resolve(import.meta.dirname, '../.env.example'), 'utf8');
  return [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!);
}

/** A family like `SUBGRAPH_<NAME>_URL`, as a pattern its members match. */
const familyPattern = (family: string) => new RegExp(`^${family.replace(/<[A-Z]+>/g, '[A-Z0-9_]+')}$`);

async function read(): Promise<{ variables: Set<string>; families: string[] }> {
  const all = [
    ...gatewaySettings.variables,
    ...subgraphNames.flatMap((name) => subgraphSettings(name).variables),
    ...(
      await Promise.all(subgraphNames.map(async (name) => (await subgraphs[name].load()).settings.variables))
    ).flat(),
  ];
  return {
    variables: new Set(all.filter((name) => !name.includes('<'))),
    families: all.filter((name) => name.includes('<')),
  };
}

describe('.env.example', () => {
  it('lists every variable the settings of the gateway and each subgraph read', async () => {
    const listed = new Set(documented());
    const { variables, families } = await read();
    expect([...variables].filter((name) => !listed.has(name)).sort()).toEqual([]);
    for (const family of families) {
      expect(
        [...listed].some((name) => familyPattern(family).test(name)),
        `an example of ${family}`,
      ).toBe(true);
    }
  });

  it('lists nothing that no process reads', async () => {
    const { variables, families } = await read();
    const unread = documented().filter(
      (name) =>
        !variables.has(name) &&
        !Object.hasOwn(READ_ELSEWHERE, name) &&
        !families.some((family) => familyPattern(family).test(name)),
    );
    expect(unread).toEqual([]);
  });

  it('lists each variable once', () => {
    const names = documented();
    expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
  });
});
