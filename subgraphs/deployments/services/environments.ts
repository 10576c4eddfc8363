import { z } from 'zod';
import type { EnvironmentRow, EnvironmentVariableRow } from '../../../db/deployments/schema';
import { actingUserId, hasRole } from '../../common/caller';
import { refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import { isUniqueViolation } from '../../common/validation';
import type { DeploymentsContext } from '../context';
import { projectForChange, visibleProject } from './projects';

/** Variables per environment: enough for any app, few enough to keep a deployment's snapshot small. */
export const MAX_VARIABLES = 200;
const MAX_VALUE_BYTES = 64 * 1024;
/** Set by Construct itself at build and run: a user's value would be overwritten or would break routing. */
const RESERVED = /^(PORT|CONSTRUCT_.*)$/;

const environmentName = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/, 'Use 1 to 32 lowercase letters, digits or hyphens.');

const variable = z.object({
  key: z
    .string()
    .trim()
    .regex(
      /^[A-Za-z_][A-Za-z0-9_]{0,255}$/,
      'Use letters, digits and underscores, not starting with a digit.',
    )
    .refine((key) => !RESERVED.test(key), 'PORT and CONSTRUCT_* are set by Construct.'),
  value: z
    .string()
    .refine((value) => Buffer.byteLength(value) <= MAX_VALUE_BYTES, 'Use at most 64 KB.')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it refuses
    .refine((value) => !/\u0000/.test(value), 'Must not contain NUL characters.'),
});

/** AAD of a variable's ciphertext: a value copied to another variable's row does not decrypt. */
export const variableContext = (row: Pick<EnvironmentVariableRow, 'environmentId' | 'key'>) =>
  `env-var:${row.environmentId}:${row.key}`;

/**
 * What the API shows instead of a value: never enough of it to help a guess, a hint of its end
 * for long values so a user can tell two keys apart.
 */
export function maskedPreview(value: string): string {
  return value.length >= 16 ? `••••••••${value.slice(-4)}` : '••••••••';
}

/** The named environment of a project, or a userError naming `field`. */
export async function environmentNamed(
  ctx: DeploymentsContext,
  projectId: string,
  name: string,
  field = 'environment',
): Promise<{ environment: EnvironmentRow } | { userErrors: UserError[] }> {
  const environment = await ctx.storage.environmentByName(projectId, name.trim().toLowerCase());
  if (!environment) {
    return {
      userErrors: [
        userError(['input', field], `The project has no environment named “${name}”.`, 'NOT_FOUND'),
      ],
    };
  }
  return { environment };
}

/** The decrypted variables of an environment, for a new deployment's snapshot. */
export async function variablesOf(
  ctx: Pick<DeploymentsContext, 'storage' | 'encryptor'>,
  environmentId: string,
) {
  const rows = await ctx.storage.variablesOfEnvironments([environmentId]);
  return Object.fromEntries(
    rows.map((row) => [row.key, ctx.encryptor.decrypt(row.valueEncrypted, variableContext(row))]),
  );
}

export interface EnvironmentPayload {
  environment: EnvironmentRow | null;
  userErrors: UserError[];
}

export async function createEnvironment(
  ctx: DeploymentsContext,
  input: unknown,
): Promise<EnvironmentPayload> {
  const parsed = z.object({ projectId: z.string(), name: environmentName }).safeParse(input);
  if (!parsed.success) return { environment: null, userErrors: userErrorsFromZod(parsed.error) };
  const found = await projectForChange(ctx, parsed.data.projectId, 'ADMIN');
  if ('userErrors' in found) return { environment: null, ...found };
  try {
    const [environment] = await ctx.storage.insertEnvironments([
      { projectId: found.project.id, name: parsed.data.name, kind: 'CUSTOM' },
    ]);
    return { environment: environment!, userErrors: [] };
  } catch (error) {
    if (isUniqueViolation(error, 'environments_project_name_key')) {
      return {
        environment: null,
        userErrors: [
          userError(['input', 'name'], 'The project already has an environment with this name.', 'TAKEN'),
        ],
      };
    }
    throw error;
  }
}

export interface SetVariablesPayload {
  variables: EnvironmentVariableRow[];
  userErrors: UserError[];
}

/** Creates or replaces variables of one environment, all or none. They apply to the next deployment. */
export async function setEnvironmentVariables(
  ctx: DeploymentsContext,
  input: unknown,
): Promise<SetVariablesPayload> {
  const parsed = z
    .object({
      projectId: z.string(),
      environment: z.string(),
      variables: z
        .array(variable)
        .min(1, 'Give at least one variable.')
        .max(MAX_VARIABLES, `Give at most ${MAX_VARIABLES} variables.`)
        .superRefine((variables, ctx) => {
          const seen = new Set<string>();
          variables.forEach(({ key }, index) => {
            if (seen.has(key))
              ctx.addIssue({ code: 'custom', path: [index, 'key'], message: `${key} is given twice.` });
            seen.add(key);
          });
        }),
    })
    .safeParse(input);
  if (!parsed.success) return { variables: [], userErrors: userErrorsFromZod(parsed.error) };
  const found = await projectForChange(ctx, parsed.data.projectId, 'MEMBER');
  if ('userErrors' in found) return { variables: [], ...found };
  const named = await environmentNamed(ctx, found.project.id, parsed.data.environment);
  if ('userErrors' in named) return { variables: [], ...named };
  const { environment } = named;
  const existing = new Set(
    (await ctx.storage.variablesOfEnvironments([environment.id])).map((row) => row.key),
  );
  const added = parsed.data.variables.filter(({ key }) => !existing.has(key)).length;
  if (existing.size + added > MAX_VARIABLES) {
    return {
      variables: [],
      userErrors: [
        userError(
          ['input', 'variables'],
          `An environment holds at most ${MAX_VARIABLES} variables.`,
          'LIMIT_REACHED',
        ),
      ],
    };
  }
  const userId = actingUserId(ctx.caller) ?? '';
  const variables = await ctx.storage.upsertVariables(
    parsed.data.variables.map(({ key, value }) => ({
      environmentId: environment.id,
      key,
      valueEncrypted: ctx.encryptor.encrypt(value, variableContext({ environmentId: environment.id, key })),
      preview: maskedPreview(value),
      updatedBy: userId,
    })),
  );
  ctx.loaders.variablesOfEnvironment.clear(environment.id);
  return { variables, userErrors: [] };
}

/** The variable, if the caller can see its project (as if it did not exist otherwise). */
async function visibleVariable(ctx: DeploymentsContext, id: string) {
  if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
  const variable = /^var_[0-9A-Z]{26}$/.test(id) ? await ctx.storage.variableById(id) : null;
  const environment = variable ? await ctx.loaders.environment.load(variable.environmentId) : null;
  const project = environment ? await visibleProject(ctx, environment.projectId) : null;
  return variable && project ? { variable, project } : null;
}

export interface DeleteVariablePayload {
  deletedVariableId: string | null;
  userErrors: UserError[];
}

export async function deleteEnvironmentVariable(
  ctx: DeploymentsContext,
  input: { id: string },
): Promise<DeleteVariablePayload> {
  const found = await visibleVariable(ctx, input.id);
  if (!found)
    return {
      deletedVariableId: null,
      userErrors: [userError(['input', 'id'], 'No such variable.', 'NOT_FOUND')],
    };
  if (!hasRole(ctx.caller, found.project.organizationId, 'MEMBER')) {
    throw refusal(ctx.caller, 'Changing variables takes the MEMBER role or higher.');
  }
  await ctx.storage.deleteVariable(found.variable.id);
  return { deletedVariableId: found.variable.id, userErrors: [] };
}

export interface RevealPayload {
  value: string | null;
  userErrors: UserError[];
}

/** The plaintext of a variable, for ADMIN and OWNER only; logged, since it is a secret leaving the store. */
export async function revealEnvironmentVariable(
  ctx: DeploymentsContext,
  input: { id: string },
): Promise<RevealPayload> {
  const found = await visibleVariable(ctx, input.id);
  if (!found)
    return { value: null, userErrors: [userError(['input', 'id'], 'No such variable.', 'NOT_FOUND')] };
  if (!hasRole(ctx.caller, found.project.organizationId, 'ADMIN')) {
    throw refusal(ctx.caller, 'Revealing a variable takes the ADMIN role or higher.');
  }
  ctx.logger.info(
    {
      variableId: found.variable.id,
      key: found.variable.key,
      userId: actingUserId(ctx.caller),
      apiKeyId: ctx.caller.kind === 'apiKey' ? ctx.caller.apiKeyId : null,
    },
    'environment variable revealed',
  );
  return {
    value: ctx.encryptor.decrypt(found.variable.valueEncrypted, variableContext(found.variable)),
    userErrors: [],
  };
}
