import { describe, expect, it } from 'vitest';
import type { ProjectRow } from '../../../db/deployments/schema';
import { anonymousCaller, apiKeyCaller, organizationId, userCaller } from '../../../test/support/services';
import type { Caller } from '../../common/caller';
import { MAX_VARIABLES } from './environments';
import { createProject, deploymentsTestbed } from './testing';

const testbed = deploymentsTestbed();

const environments = () => testbed.services.environments;

/** A project of a fresh organization, made by its owner. */
async function projectOfNewOrganization() {
  const org = organizationId();
  const owner = userCaller({ [org]: 'OWNER' });
  return { org, owner, project: await createProject(testbed, owner, org) };
}

async function setVariables(
  caller: Caller,
  project: ProjectRow,
  variables: { key: string; value: string }[],
) {
  return environments().setVariables(testbed.scope(caller), {
    projectId: project.id,
    environment: 'production',
    variables,
  });
}

describe('environment variables', () => {
  it('are stored encrypted and listed masked; setting a key again replaces its value', async () => {
    const { org, owner, project } = await projectOfNewOrganization();
    const secret = 'sk_live_0123456789abcdef';
    const set = await setVariables(userCaller({ [org]: 'MEMBER' }), project, [
      { key: 'STRIPE_KEY', value: secret },
      { key: 'MODE', value: 'fast' },
    ]);
    expect(set.userErrors).toEqual([]);
    expect(set.variables.map((v) => [v.key, v.preview])).toEqual([
      ['STRIPE_KEY', '••••••••cdef'],
      ['MODE', '••••••••'],
    ]);

    const { rows } = await testbed.pool.query(
      'SELECT key, value_encrypted, preview FROM environment_variables WHERE environment_id = $1',
      [set.variables[0]!.environmentId],
    );
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(JSON.stringify(rows)).not.toContain('fast');
    for (const row of rows) expect(row.value_encrypted).toMatch(/^v1\./);

    const [production] = await environments().ofProject(testbed.scope(owner), project);
    const listed = await environments().variables(testbed.scope(owner), production!);
    expect(listed.map((v) => v.key)).toEqual(['MODE', 'STRIPE_KEY']);

    const replaced = await setVariables(owner, project, [{ key: 'MODE', value: 'thorough-and-slow' }]);
    expect(replaced.variables[0]).toMatchObject({ id: listed[0]!.id, preview: '••••••••slow' });
    const revealed = await environments().revealVariable(testbed.scope(owner), { id: listed[0]!.id });
    expect(revealed.value).toBe('thorough-and-slow');
  });

  it('refuse keys Construct sets, keys given twice, and an environment the project lacks', async () => {
    const { owner, project } = await projectOfNewOrganization();
    const reserved = await setVariables(owner, project, [
      { key: 'PORT', value: '80' },
      { key: 'CONSTRUCT_ENVIRONMENT', value: 'x' },
    ]);
    expect(reserved.userErrors.map((e) => e.field)).toEqual([
      ['input', 'variables', '0', 'key'],
      ['input', 'variables', '1', 'key'],
    ]);
    const twice = await setVariables(owner, project, [
      { key: 'A', value: '1' },
      { key: 'A', value: '2' },
    ]);
    expect(twice.userErrors).toMatchObject([{ field: ['input', 'variables', '1', 'key'], code: 'INVALID' }]);
    const missing = await environments().setVariables(testbed.scope(owner), {
      projectId: project.id,
      environment: 'staging',
      variables: [{ key: 'A', value: '1' }],
    });
    expect(missing.userErrors).toMatchObject([{ field: ['input', 'environment'], code: 'NOT_FOUND' }]);
    const tooMany = await setVariables(
      owner,
      project,
      Array.from({ length: MAX_VARIABLES + 1 }, (_, i) => ({ key: `K${i}`, value: 'v' })),
    );
    expect(tooMany.userErrors).toMatchObject([{ field: ['input', 'variables'], code: 'INVALID' }]);
  });

  it('are changed by MEMBER and above; VIEWER and READ_ONLY keys are FORBIDDEN, strangers find no project', async () => {
    const { org, project } = await projectOfNewOrganization();
    const variable = [{ key: 'A', value: '1' }];
    expect((await setVariables(apiKeyCaller(org, 'MEMBER'), project, variable)).userErrors).toEqual([]);
    for (const caller of [userCaller({ [org]: 'VIEWER' }), apiKeyCaller(org, 'VIEWER')]) {
      await expect(setVariables(caller, project, variable)).rejects.toMatchObject({
        extensions: { code: 'FORBIDDEN' },
      });
    }
    for (const caller of [userCaller({ [org]: 'BILLING' }), userCaller({ [organizationId()]: 'OWNER' })]) {
      const refused = await setVariables(caller, project, variable);
      expect(refused).toEqual({
        variables: [],
        userErrors: [{ field: ['input', 'projectId'], message: 'No such project.', code: 'NOT_FOUND' }],
      });
    }
    await expect(setVariables(anonymousCaller, project, variable)).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('are revealed to ADMIN and above only, and to nobody outside the organization', async () => {
    const { org, owner, project } = await projectOfNewOrganization();
    const [variable] = (await setVariables(owner, project, [{ key: 'TOKEN', value: 'a-long-secret-value' }]))
      .variables;
    const reveal = (caller: Caller) =>
      environments().revealVariable(testbed.scope(caller), { id: variable!.id });

    for (const caller of [owner, userCaller({ [org]: 'ADMIN' }), apiKeyCaller(org, 'ADMIN')]) {
      expect(await reveal(caller)).toEqual({ value: 'a-long-secret-value', userErrors: [] });
    }
    for (const caller of [
      userCaller({ [org]: 'MEMBER' }),
      userCaller({ [org]: 'VIEWER' }),
      apiKeyCaller(org, 'MEMBER'),
    ]) {
      await expect(reveal(caller)).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    }
    for (const caller of [userCaller({ [org]: 'BILLING' }), userCaller({ [organizationId()]: 'OWNER' })]) {
      expect(await reveal(caller)).toEqual({
        value: null,
        userErrors: [{ field: ['input', 'id'], message: 'No such variable.', code: 'NOT_FOUND' }],
      });
    }
    await expect(reveal(anonymousCaller)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  it('do not decrypt when a value is copied into another variable’s row', async () => {
    const { owner, project } = await projectOfNewOrganization();
    const { variables } = await setVariables(owner, project, [
      { key: 'PUBLIC', value: 'shown-anyway' },
      { key: 'PRIVATE', value: 'kept-secret' },
    ]);
    const [pub, priv] = [
      variables.find((v) => v.key === 'PUBLIC')!,
      variables.find((v) => v.key === 'PRIVATE')!,
    ];
    await testbed.pool.query('UPDATE environment_variables SET value_encrypted = $1 WHERE id = $2', [
      priv.valueEncrypted,
      pub.id,
    ]);
    await expect(environments().revealVariable(testbed.scope(owner), { id: pub.id })).rejects.toThrow();
  });

  it('are deleted by MEMBER and above; a deleted one is gone', async () => {
    const { org, owner, project } = await projectOfNewOrganization();
    const [variable] = (await setVariables(owner, project, [{ key: 'A', value: '1' }])).variables;
    const remove = (caller: Caller) =>
      environments().deleteVariable(testbed.scope(caller), { id: variable!.id });
    await expect(remove(userCaller({ [org]: 'VIEWER' }))).rejects.toMatchObject({
      extensions: { code: 'FORBIDDEN' },
    });
    const stranger = await remove(userCaller({ [organizationId()]: 'OWNER' }));
    expect(stranger.userErrors).toMatchObject([{ code: 'NOT_FOUND' }]);
    expect(await remove(userCaller({ [org]: 'MEMBER' }))).toEqual({
      deletedVariableId: variable!.id,
      userErrors: [],
    });
    expect((await remove(owner)).userErrors).toMatchObject([{ code: 'NOT_FOUND' }]);
  });
});

describe('custom environments', () => {
  it('are added by ADMIN and above, named in lowercase, once, and listed after production and preview', async () => {
    const { org, owner, project } = await projectOfNewOrganization();
    await expect(
      environments().create(testbed.scope(userCaller({ [org]: 'MEMBER' })), {
        projectId: project.id,
        name: 'qa',
      }),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });

    const admin = testbed.scope(userCaller({ [org]: 'ADMIN' }));
    const created = await environments().create(admin, { projectId: project.id, name: ' Staging ' });
    expect(created.environment).toMatchObject({ name: 'staging', kind: 'CUSTOM' });
    const again = await environments().create(admin, { projectId: project.id, name: 'staging' });
    expect(again.userErrors).toMatchObject([{ field: ['input', 'name'], code: 'TAKEN' }]);
    const invalid = await environments().create(admin, { projectId: project.id, name: 'not valid!' });
    expect(invalid.userErrors).toMatchObject([{ field: ['input', 'name'], code: 'INVALID' }]);

    const listed = await environments().ofProject(testbed.scope(owner), project);
    expect(listed.map((e) => e.name)).toEqual(['production', 'preview', 'staging']);
  });
});
