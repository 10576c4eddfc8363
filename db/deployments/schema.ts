import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { at, createdAt, updatedAt } from '../columns';

export const projects = pgTable(
  'projects',
  {
    id: text('id').primaryKey(),
    // Owned by accounts: an ID only, never a foreign key into another subgraph's database.
    organizationId: text('organization_id').notNull(),
    name: text('name').notNull(),
    slug: text('slug').notNull(),
    /**
     * The project's host label at the edge (`<label>.<base domain>`). Slugs are unique per
     * organization only, so two organizations' `web` projects cannot both be `web.localhost`:
     * the first gets its slug, later ones a suffixed label.
     */
    hostLabel: text('host_label').notNull(),
    /** Anything `git clone` accepts, or null for a project deployed from uploads only. */
    sourceUrl: text('source_url'),
    productionBranch: text('production_branch').notNull().default('main'),
    rootDirectory: text('root_directory').notNull().default(''),
    /** What the last build detected; null before the first build. */
    framework: text('framework'),
    installCommand: text('install_command'),
    buildCommand: text('build_command'),
    startCommand: text('start_command'),
    healthcheckPath: text('healthcheck_path').notNull().default('/'),
    /** The deployment the production URL serves. */
    productionDeploymentId: text('production_deployment_id'),
    /**
     * Set by a rollback: new production deployments stop taking over the production URL until
     * someone promotes one (what Vercel does, so a rollback is not undone by the next push).
     */
    productionPinned: boolean('production_pinned').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** Soft delete: the row stays while its deployments are being removed; the slug is freed. */
    deletedAt: at('deleted_at'),
  },
  (t) => [
    uniqueIndex('projects_organization_slug_key')
      .on(t.organizationId, t.slug)
      .where(sql`${t.deletedAt} IS NULL`),
    uniqueIndex('projects_host_label_key').on(t.hostLabel).where(sql`${t.deletedAt} IS NULL`),
    // Organization.projects pages by (organization, id).
    index('projects_organization_id_idx').on(t.organizationId, t.id),
  ],
);

export type ProjectRow = typeof projects.$inferSelect;

export const environments = pgTable(
  'environments',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    /** `production`, `preview`, or a custom name (`staging`). */
    name: text('name').notNull(),
    kind: text('kind', { enum: ['PRODUCTION', 'PREVIEW', 'CUSTOM'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('environments_project_name_key').on(t.projectId, t.name)],
);

export type EnvironmentRow = typeof environments.$inferSelect;

export const environmentVariables = pgTable(
  'environment_variables',
  {
    id: text('id').primaryKey(),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    /** AES-256-GCM (`v1.…`), bound to the variable's environment and key. Never returned. */
    valueEncrypted: text('value_encrypted').notNull(),
    /** What the API shows instead of the value. */
    preview: text('preview').notNull(),
    updatedBy: text('updated_by').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('environment_variables_environment_key_key').on(t.environmentId, t.key)],
);

export type EnvironmentVariableRow = typeof environmentVariables.$inferSelect;

export const deploymentStatuses = [
  'QUEUED',
  'BUILDING',
  'DEPLOYING',
  'READY',
  'ERROR',
  'CANCELED',
  'CRASHED',
  'REMOVED',
] as const;
export type DeploymentStatus = (typeof deploymentStatuses)[number];

export const deployments = pgTable(
  'deployments',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    /** Copied from the project: authorization and per-organization build limits read it without a join. */
    organizationId: text('organization_id').notNull(),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id),
    /** The user who asked for it (an accounts ID). */
    creatorId: text('creator_id').notNull(),
    sourceKind: text('source_kind', { enum: ['GIT', 'UPLOAD'] }).notNull(),
    /** GIT: the repository URL at creation time; the project's source can change later. */
    sourceUrl: text('source_url'),
    /** GIT: the branch, tag or commit asked for. */
    ref: text('ref'),
    uploadId: text('upload_id'),
    /** The commit the ref resolved to, once the source was fetched. */
    commitSha: text('commit_sha'),
    status: text('status', { enum: deploymentStatuses }).notNull().default('QUEUED'),
    errorMessage: text('error_message'),
    /** The step that failed, with errorMessage. */
    errorStep: text('error_step'),
    /** The runtime's build output (framework, start command), needed to start it again. */
    build: jsonb('build'),
    /**
     * The environment's variables as they were when the deployment was created, encrypted
     * (`v1.…`, bound to the deployment ID): a deployment is immutable, so a restart runs it with
     * the values it was built with, whatever changed since.
     */
    envEncrypted: text('env_encrypted').notNull(),
    /** Pipeline runs so far: bumped when an interrupted run is started over. */
    attempt: integer('attempt').notNull().default(0),
    /** The runtime node running the pipeline, and until when its claim holds without a heartbeat. */
    runner: text('runner'),
    leaseExpiresAt: at('lease_expires_at'),
    /** Set by a redeploy: the deployment whose source this one repeats. */
    redeployOf: text('redeploy_of'),
    createdAt: createdAt(),
    buildStartedAt: at('build_started_at'),
    readyAt: at('ready_at'),
    finishedAt: at('finished_at'),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('deployments_project_id_idx').on(t.projectId, t.id),
    index('deployments_creator_id_idx').on(t.creatorId, t.id),
    // The build scheduler looks for queued and active deployments per organization.
    index('deployments_active_idx')
      .on(t.organizationId, t.status, t.id)
      .where(sql`${t.status} IN ('QUEUED', 'BUILDING', 'DEPLOYING')`),
  ],
);

export type DeploymentRow = typeof deployments.$inferSelect;

export const deploymentSteps = pgTable(
  'deployment_steps',
  {
    deploymentId: text('deployment_id')
      .notNull()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    step: text('step', { enum: ['SOURCE', 'INSTALL', 'BUILD', 'START', 'HEALTHCHECK', 'ROUTE'] }).notNull(),
    outcome: text('outcome', { enum: ['RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELED'] }).notNull(),
    startedAt: at('started_at').notNull(),
    finishedAt: at('finished_at'),
  },
  (t) => [primaryKey({ columns: [t.deploymentId, t.step] })],
);

export type DeploymentStepRow = typeof deploymentSteps.$inferSelect;

export const deploymentLogs = pgTable(
  'deployment_logs',
  {
    deploymentId: text('deployment_id')
      .notNull()
      .references(() => deployments.id, { onDelete: 'cascade' }),
    /** Per deployment, in the order lines were written; the cursor of `Deployment.logs`. */
    seq: bigint('seq', { mode: 'number' }).notNull(),
    type: text('type', { enum: ['BUILD', 'RUNTIME'] }).notNull(),
    stream: text('stream', { enum: ['STDOUT', 'STDERR', 'SYSTEM'] }).notNull(),
    line: text('line').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.deploymentId, t.seq] })],
);

export type DeploymentLogRow = typeof deploymentLogs.$inferSelect;

export const uploads = pgTable('uploads', {
  id: text('id').primaryKey(),
  projectId: text('project_id')
    .notNull()
    .references(() => projects.id, { onDelete: 'cascade' }),
  createdBy: text('created_by').notNull(),
  /** SHA-256 of the upload URL's token: the URL is the only credential for the PUT. */
  tokenHash: text('token_hash').notNull(),
  expiresAt: at('expires_at').notNull(),
  sizeBytes: bigint('size_bytes', { mode: 'number' }),
  receivedAt: at('received_at'),
  createdAt: createdAt(),
});

export type UploadRow = typeof uploads.$inferSelect;

/**
 * Organizations deleted in accounts, as `organization.deleted` told deployments: no project is
 * created in one after that, even by a caller whose credential still lists the membership.
 */
export const deletedOrganizations = pgTable('deleted_organizations', {
  // Owned by accounts: an ID only.
  id: text('id').primaryKey(),
  deletedAt: at('deleted_at').notNull().defaultNow(),
});
