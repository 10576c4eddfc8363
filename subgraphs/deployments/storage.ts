import DataLoader from 'dataloader';
import { and, asc, count, desc, eq, gt, inArray, isNull, lt, ne, sql } from 'drizzle-orm';
import type pg from 'pg';
import {
  type DeploymentLogRow,
  type DeploymentRow,
  type DeploymentStatus,
  type DeploymentStepRow,
  deletedOrganizations,
  deploymentLogs,
  deploymentSteps,
  deployments,
  type EnvironmentRow,
  type EnvironmentVariableRow,
  environments,
  environmentVariables,
  type ProjectRow,
  projects,
  type UploadRow,
  uploads,
} from '../../db/deployments/schema';
import { newId } from '../../db/ids';
import type { Scope } from '../common/context';
import { byId } from '../common/loaders';
import { keyset, type PageQuery } from '../common/pagination';
import { createStorage, type Database } from '../common/storage';

/** Statuses in which a deployment holds a build slot of its organization. */
export const activeStatuses: DeploymentStatus[] = ['BUILDING', 'DEPLOYING'];

export interface DeploymentFilter {
  environmentId?: string;
  statuses?: DeploymentStatus[];
}

export type NewProject = Pick<
  ProjectRow,
  | 'organizationId'
  | 'name'
  | 'slug'
  | 'hostLabel'
  | 'sourceUrl'
  | 'productionBranch'
  | 'rootDirectory'
  | 'installCommand'
  | 'buildCommand'
  | 'startCommand'
  | 'healthcheckPath'
>;

export type ProjectChanges = Partial<Omit<NewProject, 'organizationId' | 'hostLabel'>>;

export type NewDeployment = Pick<
  DeploymentRow,
  | 'projectId'
  | 'organizationId'
  | 'environmentId'
  | 'creatorId'
  | 'sourceKind'
  | 'sourceUrl'
  | 'ref'
  | 'uploadId'
  | 'envEncrypted'
  | 'redeployOf'
> & { id: string };

const live = isNull(projects.deletedAt);

function queries(db: Database) {
  return {
    // ---- projects
    async projectsByIds(ids: readonly string[]): Promise<ProjectRow[]> {
      return db
        .select()
        .from(projects)
        .where(and(inArray(projects.id, [...ids]), live));
    },
    async projectBySlug(organizationId: string, slug: string): Promise<ProjectRow | null> {
      const [row] = await db
        .select()
        .from(projects)
        .where(and(eq(projects.organizationId, organizationId), eq(projects.slug, slug), live));
      return row ?? null;
    },
    async projectByHostLabel(label: string): Promise<ProjectRow | null> {
      const [row] = await db
        .select()
        .from(projects)
        .where(and(eq(projects.hostLabel, label), live));
      return row ?? null;
    },
    /** Oldest first. */
    async projectsOfOrganization(organizationId: string, page: PageQuery): Promise<ProjectRow[]> {
      const { where, order } = keyset(projects.id, page);
      return db
        .select()
        .from(projects)
        .where(and(eq(projects.organizationId, organizationId), live, where))
        .orderBy(order)
        .limit(page.limit);
    },
    async hostLabelTaken(label: string): Promise<boolean> {
      const [row] = await db
        .select({ id: projects.id })
        .from(projects)
        .where(and(eq(projects.hostLabel, label), live));
      return row !== undefined;
    },
    async insertProject(values: NewProject): Promise<ProjectRow> {
      const [row] = await db
        .insert(projects)
        .values({ id: newId('prj'), ...values })
        .returning();
      return row!;
    },
    async updateProject(
      id: string,
      changes: ProjectChanges & { framework?: string },
    ): Promise<ProjectRow | null> {
      const [row] = await db
        .update(projects)
        .set({ ...changes, updatedAt: new Date() })
        .where(and(eq(projects.id, id), live))
        .returning();
      return row ?? null;
    },
    /** Soft-deletes the project (its slug and host label are free again) and returns it, locked. */
    async markProjectDeleted(id: string): Promise<ProjectRow | null> {
      const [row] = await db
        .update(projects)
        .set({ deletedAt: new Date(), productionDeploymentId: null })
        .where(and(eq(projects.id, id), live))
        .returning();
      return row ?? null;
    },
    /**
     * Whether projects may be created in the organization: false once it was deleted. Holds a
     * shared lock on the organization until the transaction ends, so its deletion
     * (`markOrganizationDeleted`) waits for a creation in flight, and the creation sees it.
     */
    async organizationIsLive(organizationId: string): Promise<boolean> {
      await db.execute(
        sql`SELECT pg_advisory_xact_lock_shared(hashtextextended(${`organization:${organizationId}`}, 0))`,
      );
      const [gone] = await db
        .select({ id: deletedOrganizations.id })
        .from(deletedOrganizations)
        .where(eq(deletedOrganizations.id, organizationId));
      return !gone;
    },
    /** Records the organization as deleted (once), waiting for project creations in flight. */
    async markOrganizationDeleted(organizationId: string): Promise<void> {
      await db.execute(
        sql`SELECT pg_advisory_xact_lock(hashtextextended(${`organization:${organizationId}`}, 0))`,
      );
      await db.insert(deletedOrganizations).values({ id: organizationId }).onConflictDoNothing();
    },
    /** Soft-deletes every live project of an organization and returns them. */
    async markProjectsOfOrganizationDeleted(organizationId: string): Promise<ProjectRow[]> {
      return db
        .update(projects)
        .set({ deletedAt: new Date(), productionDeploymentId: null })
        .where(and(eq(projects.organizationId, organizationId), live))
        .returning();
    },
    /** Locks the project row for the rest of the transaction (promotions take turns). */
    async lockProject(id: string): Promise<ProjectRow | null> {
      const [row] = await db
        .select()
        .from(projects)
        .where(and(eq(projects.id, id), live))
        .for('update');
      return row ?? null;
    },
    /**
     * Points production at the deployment if the project is not pinned and the deployment was
     * created after the one production serves (compared in the database, to the microsecond).
     */
    async takeProductionIfNewest(projectId: string, deploymentId: string): Promise<boolean> {
      const { rowCount } = await db.execute(sql`
        UPDATE projects SET production_deployment_id = ${deploymentId}, updated_at = now()
        WHERE id = ${projectId} AND NOT production_pinned AND (
          production_deployment_id IS NULL OR
          (SELECT created_at FROM deployments WHERE id = projects.production_deployment_id) <
          (SELECT created_at FROM deployments WHERE id = ${deploymentId})
        )`);
      return (rowCount ?? 0) > 0;
    },
    async setProduction(projectId: string, deploymentId: string | null, pinned: boolean): Promise<void> {
      await db
        .update(projects)
        .set({ productionDeploymentId: deploymentId, productionPinned: pinned, updatedAt: new Date() })
        .where(eq(projects.id, projectId));
    },

    // ---- environments and variables
    async insertEnvironments(rows: Omit<EnvironmentRow, 'id' | 'createdAt'>[]): Promise<EnvironmentRow[]> {
      return db
        .insert(environments)
        .values(rows.map((row) => ({ id: newId('env'), ...row })))
        .returning();
    },
    /** Production, preview, then custom ones by name. */
    async environmentsOfProjects(projectIds: readonly string[]): Promise<EnvironmentRow[]> {
      return db
        .select()
        .from(environments)
        .where(inArray(environments.projectId, [...projectIds]))
        .orderBy(
          sql`CASE ${environments.kind} WHEN 'PRODUCTION' THEN 0 WHEN 'PREVIEW' THEN 1 ELSE 2 END`,
          asc(environments.name),
        );
    },
    async environmentsByIds(ids: readonly string[]): Promise<EnvironmentRow[]> {
      return db
        .select()
        .from(environments)
        .where(inArray(environments.id, [...ids]));
    },
    async environmentByName(projectId: string, name: string): Promise<EnvironmentRow | null> {
      const [row] = await db
        .select()
        .from(environments)
        .where(and(eq(environments.projectId, projectId), eq(environments.name, name)));
      return row ?? null;
    },
    async variablesOfEnvironments(environmentIds: readonly string[]): Promise<EnvironmentVariableRow[]> {
      return db
        .select()
        .from(environmentVariables)
        .where(inArray(environmentVariables.environmentId, [...environmentIds]))
        .orderBy(asc(environmentVariables.key));
    },
    async variableById(id: string): Promise<EnvironmentVariableRow | null> {
      const [row] = await db.select().from(environmentVariables).where(eq(environmentVariables.id, id));
      return row ?? null;
    },
    async upsertVariables(
      rows: Pick<
        EnvironmentVariableRow,
        'environmentId' | 'key' | 'valueEncrypted' | 'preview' | 'updatedBy'
      >[],
    ): Promise<EnvironmentVariableRow[]> {
      if (rows.length === 0) return [];
      return db
        .insert(environmentVariables)
        .values(rows.map((row) => ({ id: newId('var'), ...row })))
        .onConflictDoUpdate({
          target: [environmentVariables.environmentId, environmentVariables.key],
          set: {
            valueEncrypted: sql`excluded.value_encrypted`,
            preview: sql`excluded.preview`,
            updatedBy: sql`excluded.updated_by`,
            updatedAt: sql`now()`,
          },
        })
        .returning();
    },
    async deleteVariable(id: string): Promise<boolean> {
      const rows = await db
        .delete(environmentVariables)
        .where(eq(environmentVariables.id, id))
        .returning({ id: environmentVariables.id });
      return rows.length > 0;
    },
    async countVariables(environmentId: string): Promise<number> {
      const [row] = await db
        .select({ n: count() })
        .from(environmentVariables)
        .where(eq(environmentVariables.environmentId, environmentId));
      return row?.n ?? 0;
    },

    // ---- deployments
    async deploymentsByIds(ids: readonly string[]): Promise<DeploymentRow[]> {
      return db
        .select()
        .from(deployments)
        .where(inArray(deployments.id, [...ids]));
    },
    async deployment(id: string): Promise<DeploymentRow | null> {
      const [row] = await db.select().from(deployments).where(eq(deployments.id, id));
      return row ?? null;
    },
    /** Newest first, as a dashboard lists them. */
    async deploymentsOfProject(projectId: string, filter: DeploymentFilter, page: PageQuery) {
      const { where, order } = keyset(deployments.id, page, { newestFirst: true });
      return db
        .select()
        .from(deployments)
        .where(
          and(
            eq(deployments.projectId, projectId),
            filter.environmentId ? eq(deployments.environmentId, filter.environmentId) : undefined,
            filter.statuses?.length ? inArray(deployments.status, filter.statuses) : undefined,
            where,
          ),
        )
        .orderBy(order)
        .limit(page.limit);
    },
    /** Newest first. */
    async deploymentsOfCreator(creatorId: string, organizationIds: string[], page: PageQuery) {
      if (organizationIds.length === 0) return [];
      const { where, order } = keyset(deployments.id, page, { newestFirst: true });
      return db
        .select()
        .from(deployments)
        .where(
          and(
            eq(deployments.creatorId, creatorId),
            inArray(deployments.organizationId, organizationIds),
            where,
          ),
        )
        .orderBy(order)
        .limit(page.limit);
    },
    async insertDeployment(values: NewDeployment): Promise<DeploymentRow> {
      const [row] = await db.insert(deployments).values(values).returning();
      return row!;
    },
    /**
     * Moves a deployment from one of `from` to `to`, with other columns, in one conditional
     * UPDATE: whoever changes the status first wins (a cancel racing a build, two promotions),
     * and the loser learns it from the null.
     */
    async transition(
      id: string,
      from: DeploymentStatus[],
      to: DeploymentStatus,
      changes: Partial<DeploymentRow> = {},
    ): Promise<DeploymentRow | null> {
      const [row] = await db
        .update(deployments)
        .set({ ...changes, status: to, updatedAt: new Date() })
        .where(and(eq(deployments.id, id), inArray(deployments.status, from)))
        .returning();
      return row ?? null;
    },
    async updateDeployment(id: string, changes: Partial<DeploymentRow>): Promise<void> {
      await db
        .update(deployments)
        .set({ ...changes, updatedAt: new Date() })
        .where(eq(deployments.id, id));
    },
    async renewLease(id: string, runner: string, until: Date): Promise<void> {
      await db
        .update(deployments)
        .set({ leaseExpiresAt: until })
        .where(
          and(
            eq(deployments.id, id),
            eq(deployments.runner, runner),
            inArray(deployments.status, activeStatuses),
          ),
        );
    },
    async countActive(organizationId: string): Promise<number> {
      const [row] = await db
        .select({ n: count() })
        .from(deployments)
        .where(
          and(eq(deployments.organizationId, organizationId), inArray(deployments.status, activeStatuses)),
        );
      return row?.n ?? 0;
    },
    /** Serializes build-slot decisions of one organization until the transaction ends. */
    async lockOrganizationSlots(organizationId: string): Promise<void> {
      await db.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`builds:${organizationId}`}, 0))`);
    },
    /** Oldest queued deployments per organization: what to dispatch next. */
    async queued(organizationId?: string, limit = 100): Promise<DeploymentRow[]> {
      return db
        .select()
        .from(deployments)
        .where(
          and(
            eq(deployments.status, 'QUEUED'),
            organizationId ? eq(deployments.organizationId, organizationId) : undefined,
          ),
        )
        .orderBy(asc(deployments.id))
        .limit(limit);
    },
    /** Builds whose runner is this (just started) node, or whose lease lapsed: nobody runs them. */
    async orphanedBuilds(runner: string): Promise<DeploymentRow[]> {
      return db
        .select()
        .from(deployments)
        .where(
          and(
            inArray(deployments.status, activeStatuses),
            sql`(${deployments.runner} = ${runner} OR ${deployments.leaseExpiresAt} < now() OR ${deployments.runner} IS NULL)`,
          ),
        );
    },
    async deploymentsWithStatus(statuses: DeploymentStatus[], projectId?: string): Promise<DeploymentRow[]> {
      return db
        .select()
        .from(deployments)
        .where(
          and(
            inArray(deployments.status, statuses),
            projectId ? eq(deployments.projectId, projectId) : undefined,
          ),
        );
    },
    async productionDeployments(): Promise<DeploymentRow[]> {
      return db
        .select({ deployment: deployments })
        .from(projects)
        .innerJoin(deployments, eq(deployments.id, projects.productionDeploymentId))
        .where(live)
        .then((rows) => rows.map((row) => row.deployment));
    },
    async removeDeploymentsOfProject(projectId: string): Promise<DeploymentRow[]> {
      return db
        .update(deployments)
        .set({
          status: 'REMOVED',
          finishedAt: sql`coalesce(${deployments.finishedAt}, now())`,
          updatedAt: new Date(),
        })
        .where(and(eq(deployments.projectId, projectId), ne(deployments.status, 'REMOVED')))
        .returning();
    },

    // ---- steps and logs
    async stepsOfDeployments(ids: readonly string[]): Promise<DeploymentStepRow[]> {
      return db
        .select()
        .from(deploymentSteps)
        .where(inArray(deploymentSteps.deploymentId, [...ids]));
    },
    async recordStep(row: DeploymentStepRow): Promise<void> {
      await db
        .insert(deploymentSteps)
        .values(row)
        .onConflictDoUpdate({
          target: [deploymentSteps.deploymentId, deploymentSteps.step],
          set: { outcome: row.outcome, startedAt: row.startedAt, finishedAt: row.finishedAt },
        });
    },
    async clearSteps(deploymentId: string): Promise<void> {
      await db.delete(deploymentSteps).where(eq(deploymentSteps.deploymentId, deploymentId));
    },
    /** Steps left RUNNING by a pipeline that stopped: they end with the deployment's outcome. */
    async closeRunningSteps(deploymentId: string, outcome: 'FAILED' | 'CANCELED'): Promise<void> {
      await db
        .update(deploymentSteps)
        .set({ outcome, finishedAt: new Date() })
        .where(and(eq(deploymentSteps.deploymentId, deploymentId), eq(deploymentSteps.outcome, 'RUNNING')));
    },
    async insertLogs(rows: DeploymentLogRow[]): Promise<void> {
      if (rows.length > 0) await db.insert(deploymentLogs).values(rows);
    },
    async lastLogSeq(deploymentId: string): Promise<number> {
      const [row] = await db
        .select({ seq: sql<number | null>`max(${deploymentLogs.seq})` })
        .from(deploymentLogs)
        .where(eq(deploymentLogs.deploymentId, deploymentId));
      return Number(row?.seq ?? 0);
    },
    async logs(
      deploymentId: string,
      type: 'BUILD' | 'RUNTIME' | undefined,
      range: { afterSeq?: number; beforeSeq?: number; limit: number; descending: boolean },
    ): Promise<DeploymentLogRow[]> {
      return db
        .select()
        .from(deploymentLogs)
        .where(
          and(
            eq(deploymentLogs.deploymentId, deploymentId),
            type ? eq(deploymentLogs.type, type) : undefined,
            range.afterSeq !== undefined ? gt(deploymentLogs.seq, range.afterSeq) : undefined,
            range.beforeSeq !== undefined ? lt(deploymentLogs.seq, range.beforeSeq) : undefined,
          ),
        )
        .orderBy(range.descending ? desc(deploymentLogs.seq) : asc(deploymentLogs.seq))
        .limit(range.limit);
    },

    // ---- uploads
    async insertUpload(
      values: Omit<UploadRow, 'createdAt' | 'sizeBytes' | 'receivedAt'>,
    ): Promise<UploadRow> {
      const [row] = await db.insert(uploads).values(values).returning();
      return row!;
    },
    async upload(id: string): Promise<UploadRow | null> {
      const [row] = await db.select().from(uploads).where(eq(uploads.id, id));
      return row ?? null;
    },
    /** Marks the upload received, once: a second PUT to the same URL gets false. */
    async receiveUpload(id: string, sizeBytes: number): Promise<boolean> {
      const rows = await db
        .update(uploads)
        .set({ sizeBytes, receivedAt: new Date() })
        .where(and(eq(uploads.id, id), isNull(uploads.receivedAt)))
        .returning({ id: uploads.id });
      return rows.length > 0;
    },
  };
}

export type DeploymentsQueries = ReturnType<typeof queries>;

/** Everything deployments reads and writes in its own database. */
export const createDeploymentsStorage = (pool: pg.Pool) => createStorage(pool, queries);

export type DeploymentsStorage = ReturnType<typeof createDeploymentsStorage>;

/** Per request: each batches the IDs asked for during one tick into one query. */
export function createDeploymentsLoaders(storage: DeploymentsStorage) {
  const grouped =
    <T>(key: (row: T) => string) =>
    (ids: readonly string[], rows: T[]) =>
      ids.map((id) => rows.filter((row) => key(row) === id));
  const byProject = grouped<EnvironmentRow>((row) => row.projectId);
  const byEnvironment = grouped<EnvironmentVariableRow>((row) => row.environmentId);
  const byDeployment = grouped<DeploymentStepRow>((row) => row.deploymentId);
  return {
    project: new DataLoader<string, ProjectRow | null>(async (ids) =>
      byId(ids, await storage.projectsByIds(ids)),
    ),
    deployment: new DataLoader<string, DeploymentRow | null>(async (ids) =>
      byId(ids, await storage.deploymentsByIds(ids)),
    ),
    environment: new DataLoader<string, EnvironmentRow | null>(async (ids) =>
      byId(ids, await storage.environmentsByIds(ids)),
    ),
    environmentsOfProject: new DataLoader<string, EnvironmentRow[]>(async (ids) =>
      byProject(ids, await storage.environmentsOfProjects(ids)),
    ),
    variablesOfEnvironment: new DataLoader<string, EnvironmentVariableRow[]>(async (ids) =>
      byEnvironment(ids, await storage.variablesOfEnvironments(ids)),
    ),
    stepsOfDeployment: new DataLoader<string, DeploymentStepRow[]>(async (ids) =>
      byDeployment(ids, await storage.stepsOfDeployments(ids)),
    ),
  };
}

export type DeploymentsLoaders = ReturnType<typeof createDeploymentsLoaders>;

/** What deployments' service methods take first: the caller and this operation's loaders. */
export type DeploymentsScope = Scope<DeploymentsLoaders>;
