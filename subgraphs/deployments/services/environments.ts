import { z } from 'zod';
import type {
  DeploymentRow,
  EnvironmentRow,
  EnvironmentVariableRow,
  ProjectRow,
} from '../../../db/deployments/schema';
import { actingUserId, hasRole } from '../../common/caller';
import type { Encryptor } from '../../common/encryption';
import { refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { isUniqueViolation } from '../../common/validation';
import type { DeploymentsScope, DeploymentsStorage } from '../storage';
import type { ProjectsService } from './projects';

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

/** The variables to set, with the rules their types cannot say. */
const variables = z
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
  });

export interface CreateEnvironmentInput {
  projectId: string;
  name: string;
}

export interface SetEnvironmentVariablesInput {
  projectId: string;
  /** The environment's name. */
  environment: string;
  variables: { key: string; value: string }[];
}

export interface VariableIdInput {
  id: string;
}

export interface EnvironmentPayload {
  environment: EnvironmentRow | null;
  userErrors: UserError[];
}

export interface SetVariablesPayload {
  variables: EnvironmentVariableRow[];
  userErrors: UserError[];
}

export interface DeleteVariablePayload {
  deletedVariableId: string | null;
  userErrors: UserError[];
}

export interface RevealPayload {
  value: string | null;
  userErrors: UserError[];
}

const noSuchVariable = [userError(['input', 'id'], 'No such variable.', 'NOT_FOUND')];

export interface EnvironmentsDependencies {
  storage: DeploymentsStorage;
  /** Encrypts each variable at rest, bound to its environment and key. */
  encryptor: Encryptor;
  projects: Pick<ProjectsService, 'visible' | 'forChange'>;
  /** Every reveal is logged: it is a secret leaving the store. */
  logger: Logger;
}

/**
 * Environments and their variables: encrypted at rest, listed masked, revealed to ADMINs only,
 * and snapshotted into each new deployment.
 */
export function createEnvironmentsService({
  storage,
  encryptor,
  projects,
  logger,
}: EnvironmentsDependencies) {
  /** The named environment of a project (names compare trimmed and lowercased), or null. */
  function byName(_scope: DeploymentsScope, projectId: string, name: string): Promise<EnvironmentRow | null> {
    return storage.environmentByName(projectId, name.trim().toLowerCase());
  }

  /** The named environment of a project, or a userError naming `field`. */
  async function named(
    scope: DeploymentsScope,
    projectId: string,
    name: string,
    field = 'environment',
  ): Promise<{ environment: EnvironmentRow } | { userErrors: UserError[] }> {
    const environment = await byName(scope, projectId, name);
    if (!environment) {
      return {
        userErrors: [
          userError(['input', field], `The project has no environment named “${name}”.`, 'NOT_FOUND'),
        ],
      };
    }
    return { environment };
  }

  /** The variable, if the caller can see its project (as if it did not exist otherwise). */
  async function visibleVariable(scope: DeploymentsScope, id: string) {
    if (scope.caller.kind === 'anonymous') throw refusal(scope.caller);
    const variable = /^var_[0-9A-Z]{26}$/.test(id) ? await storage.variableById(id) : null;
    const environment = variable ? await scope.loaders.environment.load(variable.environmentId) : null;
    const project = environment ? await projects.visible(scope, environment.projectId) : null;
    return variable && project ? { variable, project } : null;
  }

  return {
    byName,
    named,

    /** The decrypted variables of an environment, for a new deployment's snapshot. */
    async snapshot(_scope: DeploymentsScope, environmentId: string): Promise<Record<string, string>> {
      const rows = await storage.variablesOfEnvironments([environmentId]);
      return Object.fromEntries(
        rows.map((row) => [row.key, encryptor.decrypt(row.valueEncrypted, variableContext(row))]),
      );
    },

    /** A project's environments: production, preview, then custom ones by name. */
    ofProject(scope: DeploymentsScope, project: ProjectRow): Promise<EnvironmentRow[]> {
      return scope.loaders.environmentsOfProject.load(project.id);
    },

    /** The environment a deployment was built and runs with. */
    async ofDeployment(scope: DeploymentsScope, deployment: DeploymentRow): Promise<EnvironmentRow> {
      return (await scope.loaders.environment.load(deployment.environmentId))!;
    },

    /** An environment's variables by key, values masked (reached through a project or deployment the caller sees). */
    variables(scope: DeploymentsScope, environment: EnvironmentRow): Promise<EnvironmentVariableRow[]> {
      return scope.loaders.variablesOfEnvironment.load(environment.id);
    },

    /** Adds a custom environment to a project (ADMIN or above). */
    async create(scope: DeploymentsScope, input: CreateEnvironmentInput): Promise<EnvironmentPayload> {
      const parsed = z.object({ name: environmentName }).safeParse(input);
      if (!parsed.success) return { environment: null, userErrors: userErrorsFromZod(parsed.error) };
      const found = await projects.forChange(scope, input.projectId, 'ADMIN');
      if ('userErrors' in found) return { environment: null, ...found };
      try {
        const [environment] = await storage.insertEnvironments([
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
    },

    /** Creates or replaces variables of one environment, all or none. They apply to the next deployment. */
    async setVariables(
      scope: DeploymentsScope,
      input: SetEnvironmentVariablesInput,
    ): Promise<SetVariablesPayload> {
      const parsed = z.object({ variables }).safeParse(input);
      if (!parsed.success) return { variables: [], userErrors: userErrorsFromZod(parsed.error) };
      const found = await projects.forChange(scope, input.projectId, 'MEMBER');
      if ('userErrors' in found) return { variables: [], ...found };
      const target = await named(scope, found.project.id, input.environment);
      if ('userErrors' in target) return { variables: [], ...target };
      const { environment } = target;
      const existing = new Set(
        (await storage.variablesOfEnvironments([environment.id])).map((row) => row.key),
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
      const userId = actingUserId(scope.caller) ?? '';
      const rows = await storage.upsertVariables(
        parsed.data.variables.map(({ key, value }) => ({
          environmentId: environment.id,
          key,
          valueEncrypted: encryptor.encrypt(value, variableContext({ environmentId: environment.id, key })),
          preview: maskedPreview(value),
          updatedBy: userId,
        })),
      );
      scope.loaders.variablesOfEnvironment.clear(environment.id);
      return { variables: rows, userErrors: [] };
    },

    /** Deletes a variable (MEMBER or above); running deployments keep the value they started with. */
    async deleteVariable(scope: DeploymentsScope, input: VariableIdInput): Promise<DeleteVariablePayload> {
      const found = await visibleVariable(scope, input.id);
      if (!found) return { deletedVariableId: null, userErrors: noSuchVariable };
      if (!hasRole(scope.caller, found.project.organizationId, 'MEMBER')) {
        throw refusal(scope.caller, 'Changing variables takes the MEMBER role or higher.');
      }
      await storage.deleteVariable(found.variable.id);
      return { deletedVariableId: found.variable.id, userErrors: [] };
    },

    /** The plaintext of a variable, for ADMIN and OWNER only; logged, since it is a secret leaving the store. */
    async revealVariable(scope: DeploymentsScope, input: VariableIdInput): Promise<RevealPayload> {
      const { caller } = scope;
      const found = await visibleVariable(scope, input.id);
      if (!found) return { value: null, userErrors: noSuchVariable };
      if (!hasRole(caller, found.project.organizationId, 'ADMIN')) {
        throw refusal(caller, 'Revealing a variable takes the ADMIN role or higher.');
      }
      logger.info(
        {
          variableId: found.variable.id,
          key: found.variable.key,
          userId: actingUserId(caller),
          apiKeyId: caller.kind === 'apiKey' ? caller.apiKeyId : null,
        },
        'environment variable revealed',
      );
      return {
        value: encryptor.decrypt(found.variable.valueEncrypted, variableContext(found.variable)),
        userErrors: [],
      };
    },
  };
}

export type EnvironmentsService = ReturnType<typeof createEnvironmentsService>;
