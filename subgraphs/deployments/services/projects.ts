import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ProjectRow } from '../../../db/deployments/schema';
import { type Caller, hasRole } from '../../common/caller';
import { refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import { displayName, isUniqueViolation, slug } from '../../common/validation';
import type { DeploymentsContext } from '../context';
import { deploymentIdFromLabel } from '../runtime/hostnames';
import { isSafeRef, normalizeRootDirectory, parseSourceUrl } from '../runtime/source-validation';
import type { ProjectChanges } from '../storage';
import { projectEvent } from './platform-events';

const id = (prefix: string, noun: string) =>
  z.string().regex(new RegExp(`^${prefix}_[0-9A-Z]{26}$`), `Not ${noun} ID.`);
export const projectId = id('prj', 'a project');
export const deploymentId = id('dpl', 'a deployment');

/** A shell command the user runs in their build (like Vercel's): one line, bounded; blank means "detect". */
const command = z
  .string()
  .trim()
  .max(1000, 'Use at most 1000 characters.')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'Use one line without control characters.')
  .transform((value) => (value === '' ? null : value))
  .nullable();

const branch = z.string().trim().min(1, 'Must not be blank.').refine(isSafeRef, 'Not a valid branch name.');

const healthcheckPath = z
  .string()
  .trim()
  .max(255, 'Use at most 255 characters.')
  .regex(/^\/[\x21-\x7e]*$/, 'Start with "/" and use no spaces or control characters.');

const rootDirectory = z.string().transform((value, ctx) => {
  const result = normalizeRootDirectory(value);
  if (!result.ok) {
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  }
  return result.path;
});

function sourceUrl(allowLocal: boolean) {
  return z
    .string()
    .trim()
    .transform((value, ctx) => {
      if (value === '') return null;
      const result = parseSourceUrl(value, { allowLocal });
      if (!result.ok) {
        ctx.addIssue({ code: 'custom', message: result.message });
        return z.NEVER;
      }
      return result.url;
    })
    .nullable();
}

function settings(allowLocal: boolean) {
  return {
    sourceUrl: sourceUrl(allowLocal).optional(),
    productionBranch: branch.optional(),
    rootDirectory: rootDirectory.optional(),
    installCommand: command.optional(),
    buildCommand: command.optional(),
    startCommand: command.optional(),
    healthcheckPath: healthcheckPath.optional(),
  };
}

export interface ProjectPayload {
  project: ProjectRow | null;
  userErrors: UserError[];
}

const slugTaken = userError(
  ['input', 'slug'],
  'This organization already has a project with this slug.',
  'TAKEN',
);

const noSuchProject = (field = 'projectId'): UserError =>
  userError(['input', field], 'No such project.', 'NOT_FOUND');

/**
 * Whether the caller may read an organization's projects and deployments: any role from VIEWER
 * up. BILLING members see the organization (accounts) but none of its projects.
 */
export function canSee(caller: Caller, organizationId: string): boolean {
  return hasRole(caller, organizationId, 'VIEWER');
}

/** The project, if it exists and the caller can see its organization's projects; null otherwise (no hint which). */
export async function visibleProject(ctx: DeploymentsContext, id: string): Promise<ProjectRow | null> {
  const project = await ctx.loaders.project.load(id);
  return project && canSee(ctx.caller, project.organizationId) ? project : null;
}

/**
 * The project a mutation names, if the caller may change it with `role`: a userError for a
 * project they cannot see (as if it did not exist), FORBIDDEN for a role too low.
 */
export async function projectForChange(
  ctx: DeploymentsContext,
  id: string,
  role: 'MEMBER' | 'ADMIN',
  field = 'projectId',
): Promise<{ project: ProjectRow } | { userErrors: UserError[] }> {
  if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
  if (!projectId.safeParse(id).success)
    return { userErrors: [userError(['input', field], 'Not a project ID.')] };
  const project = await visibleProject(ctx, id);
  if (!project) return { userErrors: [noSuchProject(field)] };
  if (!hasRole(ctx.caller, project.organizationId, role)) {
    throw refusal(ctx.caller, `This takes the ${role} role or higher in the project’s organization.`);
  }
  return { project };
}

/**
 * A host label for the edge: the slug when no other live project has it, otherwise the slug
 * with a random suffix (slugs are unique per organization only). Never one shaped like a
 * deployment's label.
 */
async function freeHostLabel(ctx: DeploymentsContext, wanted: string): Promise<string> {
  if (!deploymentIdFromLabel(wanted) && !(await ctx.storage.hostLabelTaken(wanted))) return wanted;
  return `${wanted}-${randomBytes(4).readUInt32BE().toString(36).padStart(6, '0').slice(0, 6)}`;
}

export async function createProject(ctx: DeploymentsContext, input: unknown): Promise<ProjectPayload> {
  if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
  const parsed = z
    .object({
      organizationId: id('org', 'an organization'),
      name: displayName,
      slug,
      ...settings(ctx.settings.RUNTIME_ALLOW_LOCAL_SOURCES),
    })
    .safeParse(input);
  if (!parsed.success) return { project: null, userErrors: userErrorsFromZod(parsed.error) };
  const { organizationId } = parsed.data;
  const noSuchOrganization = {
    project: null,
    userErrors: [userError(['input', 'organizationId'], 'No such organization.', 'NOT_FOUND')],
  };
  // Not a member (or BILLING only): the same answer as for an organization that does not exist.
  if (!canSee(ctx.caller, organizationId)) return noSuchOrganization;
  if (!hasRole(ctx.caller, organizationId, 'MEMBER')) {
    throw refusal(ctx.caller, 'Creating projects takes the MEMBER role or higher in this organization.');
  }
  const values = parsed.data;
  for (let tries = 0; ; tries++) {
    try {
      const hostLabel = await freeHostLabel(ctx, values.slug);
      const project = await ctx.storage.transaction(async (tx, client) => {
        if (!(await tx.organizationIsLive(organizationId))) return null;
        const project = await tx.insertProject({
          organizationId,
          name: values.name,
          slug: values.slug,
          hostLabel,
          sourceUrl: values.sourceUrl ?? null,
          productionBranch: values.productionBranch ?? 'main',
          rootDirectory: values.rootDirectory ?? '',
          installCommand: values.installCommand ?? null,
          buildCommand: values.buildCommand ?? null,
          startCommand: values.startCommand ?? null,
          healthcheckPath: values.healthcheckPath ?? '/',
        });
        await tx.insertEnvironments([
          { projectId: project.id, name: 'production', kind: 'PRODUCTION' },
          { projectId: project.id, name: 'preview', kind: 'PREVIEW' },
        ]);
        await ctx.outbox.emit(
          client,
          projectEvent('project.created', project, ctx.caller, ctx.engine.projectUrl(project)),
        );
        return project;
      });
      if (!project) return noSuchOrganization;
      ctx.outbox.wake();
      return { project, userErrors: [] };
    } catch (error) {
      if (isUniqueViolation(error, 'projects_organization_slug_key')) {
        return { project: null, userErrors: [slugTaken] };
      }
      // Another project took the label between our check and our insert: pick again.
      if (isUniqueViolation(error, 'projects_host_label_key') && tries < 3) continue;
      throw error;
    }
  }
}

export async function updateProject(ctx: DeploymentsContext, input: unknown): Promise<ProjectPayload> {
  const parsed = z
    .object({
      projectId: z.string(),
      name: displayName.optional(),
      slug: slug.optional(),
      ...settings(ctx.settings.RUNTIME_ALLOW_LOCAL_SOURCES),
    })
    .safeParse(input);
  if (!parsed.success) return { project: null, userErrors: userErrorsFromZod(parsed.error) };
  const found = await projectForChange(ctx, parsed.data.projectId, 'MEMBER');
  if ('userErrors' in found) return { project: null, ...found };
  const { projectId: _, ...changes } = parsed.data;
  // Absent fields stay as they are; null (or blank) resets a command to what detection picks.
  const defined = Object.fromEntries(
    Object.entries(changes).filter(([, value]) => value !== undefined),
  ) as ProjectChanges;
  try {
    const project = await ctx.storage.updateProject(found.project.id, defined);
    if (!project) return { project: null, userErrors: [noSuchProject()] };
    ctx.loaders.project.clear(project.id).prime(project.id, project);
    return { project, userErrors: [] };
  } catch (error) {
    if (isUniqueViolation(error, 'projects_organization_slug_key')) {
      return { project: null, userErrors: [slugTaken] };
    }
    throw error;
  }
}

export interface DeleteProjectPayload {
  deletedProjectId: string | null;
  userErrors: UserError[];
}

/** Deletes a project: its deployments are stopped and removed, its URLs stop answering at once. */
export async function deleteProject(
  ctx: DeploymentsContext,
  input: { projectId: string },
): Promise<DeleteProjectPayload> {
  const found = await projectForChange(ctx, input.projectId, 'ADMIN');
  if ('userErrors' in found) return { deletedProjectId: null, ...found };
  const removed = await ctx.storage.transaction(async (tx, client) => {
    const project = await tx.markProjectDeleted(found.project.id);
    if (!project) return null;
    await ctx.outbox.emit(
      client,
      projectEvent('project.deleted', project, ctx.caller, ctx.engine.projectUrl(project)),
    );
    return tx.removeDeploymentsOfProject(project.id);
  });
  if (!removed) return { deletedProjectId: null, userErrors: [noSuchProject()] };
  ctx.outbox.wake();
  ctx.engine.routesChanged(found.project.id);
  await ctx.engine.removed(removed);
  return { deletedProjectId: found.project.id, userErrors: [] };
}
