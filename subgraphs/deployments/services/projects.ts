import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import type { DeploymentRow, ProjectRow } from '../../../db/deployments/schema';
import { type Caller, hasRole } from '../../common/caller';
import { refusal, type UserError, userError, userErrorsFromZod } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { Outbox } from '../../common/outbox';
import { type ConnectionArgs, keysetConnection } from '../../common/pagination';
import { displayName, isUniqueViolation, slug } from '../../common/validation';
import type { DeploymentsSettings } from '../config';
import type { DeploymentEngine } from '../engine';
import { deploymentIdFromLabel } from '../runtime/hostnames';
import { isSafeRef, normalizeRootDirectory, parseSourceUrl } from '../runtime/source-validation';
import type { DeploymentsQueries, DeploymentsScope, DeploymentsStorage, ProjectChanges } from '../storage';
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

function projectSettings(allowLocal: boolean) {
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

/** How a project builds and is checked; each may be left out (its default, or unchanged). */
export interface ProjectSettingsInput {
  sourceUrl?: string | null;
  productionBranch?: string | null;
  rootDirectory?: string | null;
  installCommand?: string | null;
  buildCommand?: string | null;
  startCommand?: string | null;
  healthcheckPath?: string | null;
}

export interface CreateProjectInput extends ProjectSettingsInput {
  organizationId: string;
  name: string;
  slug: string;
}

export interface UpdateProjectInput extends ProjectSettingsInput {
  projectId: string;
  name?: string | null;
  slug?: string | null;
}

export interface ProjectIdInput {
  projectId: string;
}

/** The second key of `Project`: accounts knows an organization's projects by slug only. */
export interface ProjectSlugReference {
  organization: { id: string };
  slug: string;
}

export interface ProjectPayload {
  project: ProjectRow | null;
  userErrors: UserError[];
}

export interface DeleteProjectPayload {
  deletedProjectId: string | null;
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

export interface ProjectsDependencies {
  storage: DeploymentsStorage;
  /** Project URLs, and what a deleted project's deployments stop. */
  engine: Pick<DeploymentEngine, 'urls' | 'announcements' | 'instances'>;
  /** Where project.created/.deleted are emitted, in the transaction of the change. */
  outbox: Outbox;
  settings: Pick<DeploymentsSettings, 'RUNTIME_ALLOW_LOCAL_SOURCES'>;
  logger: Logger;
}

/**
 * Projects: who may see, create, change and delete them, and their deletion with the
 * organization that owns them. Every method with a caller takes their scope first.
 */
export function createProjectsService({ storage, engine, outbox, settings, logger }: ProjectsDependencies) {
  const creation = z.object({
    organizationId: id('org', 'an organization'),
    name: displayName,
    slug,
    ...projectSettings(settings.RUNTIME_ALLOW_LOCAL_SOURCES),
  });
  const changes = z.object({
    name: displayName.optional(),
    slug: slug.optional(),
    ...projectSettings(settings.RUNTIME_ALLOW_LOCAL_SOURCES),
  });

  /** The project, if it exists and the caller can see its organization's projects; null otherwise (no hint which). */
  async function visible(scope: DeploymentsScope, id: string): Promise<ProjectRow | null> {
    const project = await scope.loaders.project.load(id);
    return project && canSee(scope.caller, project.organizationId) ? project : null;
  }

  /**
   * A host label for the edge: the slug when no other live project has it, otherwise the slug
   * with a random suffix (slugs are unique per organization only). Never one shaped like a
   * deployment's label.
   */
  async function freeHostLabel(wanted: string): Promise<string> {
    if (!deploymentIdFromLabel(wanted) && !(await storage.hostLabelTaken(wanted))) return wanted;
    return `${wanted}-${randomBytes(4).readUInt32BE().toString(36).padStart(6, '0').slice(0, 6)}`;
  }

  /** In the transaction that deleted the project: its event, and its deployments REMOVED (returned). */
  async function retire(
    tx: DeploymentsQueries,
    client: pg.PoolClient,
    project: ProjectRow,
    /** Who did it; absent for the platform (a project deleted with its organization). */
    actor?: Caller,
    extra?: Record<string, unknown>,
  ): Promise<DeploymentRow[]> {
    await outbox.emit(
      client,
      projectEvent('project.deleted', project, actor, engine.urls.projectUrl(project), extra),
    );
    return tx.removeDeploymentsOfProject(project.id);
  }

  /** Once the deletion committed: its URLs stop answering, its apps stop and their builds go. */
  async function retired(projectIds: string[], removed: DeploymentRow[]): Promise<void> {
    outbox.wake();
    for (const id of projectIds) engine.announcements.routesChanged(id);
    await engine.instances.removed(removed);
  }

  /**
   * The project a mutation names, if the caller may change it with `role`: a userError for a
   * project they cannot see (as if it did not exist), FORBIDDEN for a role too low.
   */
  async function forChange(
    scope: DeploymentsScope,
    id: string,
    role: 'MEMBER' | 'ADMIN',
    field = 'projectId',
  ): Promise<{ project: ProjectRow } | { userErrors: UserError[] }> {
    const { caller } = scope;
    if (caller.kind === 'anonymous') throw refusal(caller);
    if (!projectId.safeParse(id).success)
      return { userErrors: [userError(['input', field], 'Not a project ID.')] };
    const project = await visible(scope, id);
    if (!project) return { userErrors: [noSuchProject(field)] };
    if (!hasRole(caller, project.organizationId, role)) {
      throw refusal(caller, `This takes the ${role} role or higher in the project’s organization.`);
    }
    return { project };
  }

  return {
    visible,
    forChange,

    /** The project an entity reference names (by ID, or by its organization and slug), if visible. */
    async reference(scope: DeploymentsScope, ref: { id: string } | ProjectSlugReference) {
      if ('id' in ref) return visible(scope, ref.id);
      const project = await storage.projectBySlug(ref.organization.id, ref.slug);
      return project && (await visible(scope, project.id));
    },

    /** The production URL: it serves the production deployment, and answers 404 until there is one. */
    url(_scope: DeploymentsScope, project: ProjectRow): string {
      return engine.urls.projectUrl(project);
    },

    /** An organization's projects, oldest first, for its members from VIEWER up. */
    async ofOrganization(scope: DeploymentsScope, organizationId: string, args: ConnectionArgs) {
      if (!canSee(scope.caller, organizationId)) {
        throw refusal(scope.caller, 'Listing projects takes the VIEWER role or higher in this organization.');
      }
      return keysetConnection(args, (page) => storage.projectsOfOrganization(organizationId, page));
    },

    /** Creates a project with its `production` and `preview` environments (MEMBER or above). */
    async create(scope: DeploymentsScope, input: CreateProjectInput): Promise<ProjectPayload> {
      const { caller } = scope;
      if (caller.kind === 'anonymous') throw refusal(caller);
      const parsed = creation.safeParse(input);
      if (!parsed.success) return { project: null, userErrors: userErrorsFromZod(parsed.error) };
      const { organizationId } = parsed.data;
      const noSuchOrganization = {
        project: null,
        userErrors: [userError(['input', 'organizationId'], 'No such organization.', 'NOT_FOUND')],
      };
      // Not a member (or BILLING only): the same answer as for an organization that does not exist.
      if (!canSee(caller, organizationId)) return noSuchOrganization;
      if (!hasRole(caller, organizationId, 'MEMBER')) {
        throw refusal(caller, 'Creating projects takes the MEMBER role or higher in this organization.');
      }
      const values = parsed.data;
      for (let tries = 0; ; tries++) {
        try {
          const hostLabel = await freeHostLabel(values.slug);
          const project = await storage.transaction(async (tx, client) => {
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
            await outbox.emit(
              client,
              projectEvent('project.created', project, caller, engine.urls.projectUrl(project)),
            );
            return project;
          });
          if (!project) return noSuchOrganization;
          outbox.wake();
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
    },

    /** Changes a project's settings (MEMBER or above); they apply to the next deployment. */
    async update(scope: DeploymentsScope, input: UpdateProjectInput): Promise<ProjectPayload> {
      const parsed = changes.safeParse(input);
      if (!parsed.success) return { project: null, userErrors: userErrorsFromZod(parsed.error) };
      const found = await forChange(scope, input.projectId, 'MEMBER');
      if ('userErrors' in found) return { project: null, ...found };
      // Absent fields stay as they are; null (or blank) resets a command to what detection picks.
      const defined = Object.fromEntries(
        Object.entries(parsed.data).filter(([, value]) => value !== undefined),
      ) as ProjectChanges;
      try {
        const project = await storage.updateProject(found.project.id, defined);
        if (!project) return { project: null, userErrors: [noSuchProject()] };
        scope.loaders.project.clear(project.id).prime(project.id, project);
        return { project, userErrors: [] };
      } catch (error) {
        if (isUniqueViolation(error, 'projects_organization_slug_key')) {
          return { project: null, userErrors: [slugTaken] };
        }
        throw error;
      }
    },

    /** Deletes a project (ADMIN or above): its deployments are stopped and removed, its URLs stop answering at once. */
    async delete(scope: DeploymentsScope, input: ProjectIdInput): Promise<DeleteProjectPayload> {
      const found = await forChange(scope, input.projectId, 'ADMIN');
      if ('userErrors' in found) return { deletedProjectId: null, ...found };
      const removed = await storage.transaction(async (tx, client) => {
        const project = await tx.markProjectDeleted(found.project.id);
        return project ? retire(tx, client, project, scope.caller) : null;
      });
      if (!removed) return { deletedProjectId: null, userErrors: [noSuchProject()] };
      await retired([found.project.id], removed);
      return { deletedProjectId: found.project.id, userErrors: [] };
    },

    /**
     * The organization was deleted (the platform says so; no caller asks): each of its projects
     * is deleted as `delete` would (in one transaction, with a `project.deleted` event each), then
     * their apps stop and their builds are removed; no project is created in it any more. A
     * repeat finds no project left and does nothing. Returns how many projects it deleted.
     */
    async deleteOfOrganization(organizationId: string): Promise<number> {
      const { deleted, removed } = await storage.transaction(async (tx, client) => {
        // First, so that a project created by a caller whose credential still lists the membership
        // (a gateway's cache) is either among those deleted here or refused.
        await tx.markOrganizationDeleted(organizationId);
        const deleted = await tx.markProjectsOfOrganizationDeleted(organizationId);
        const removed: DeploymentRow[] = [];
        for (const project of deleted) {
          removed.push(...(await retire(tx, client, project, undefined, { reason: 'organization.deleted' })));
        }
        return { deleted, removed };
      });
      if (deleted.length === 0) return 0;
      logger.info(
        { organizationId, projects: deleted.length },
        'deleted the projects of a deleted organization',
      );
      await retired(
        deleted.map((project) => project.id),
        removed,
      );
      return deleted.length;
    },
  };
}

export type ProjectsService = ReturnType<typeof createProjectsService>;
