import type { ProjectRow } from '../../../db/deployments/schema';
import { builder } from '../builder';
import { redactSourceUrl } from '../runtime/source-validation';
import { DeploymentType } from './deployment';
import { DeploymentStatusEnum, FrameworkEnum } from './enums';
import { EnvironmentType } from './environment';
import { OrganizationRef } from './organization';

export const ProjectType = builder.objectRef<ProjectRow>('Project').implement({
  description: 'An application deployed from one source, with its environments and deployments.',
  // Defence in depth: whatever path returns a project (a root field, a nested field, the
  // gateway's `_entities`), only members of its organization see it.
  authScopes: (project) => ({ role: { organizationId: project.organizationId, atLeast: 'VIEWER' } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`prj_…`).' }),
    name: t.exposeString('name', { description: 'Display name.' }),
    slug: t.exposeString('slug', {
      description: 'Handle, unique within the organization.',
    }),
    organization: t.field({
      type: OrganizationRef,
      // Resolved by accounts: nullable so an accounts outage degrades only this field.
      nullable: true,
      description: 'The organization that owns the project.',
      resolve: (project) => ({ id: project.organizationId }),
    }),
    url: t.string({
      description:
        'The production URL: it serves the production deployment, and answers 404 until there is one.',
      resolve: (project, _, ctx) => ctx.services.projects.url(ctx, project),
    }),
    sourceUrl: t.string({
      nullable: true,
      description:
        'The git repository deployments are built from (credentials in it redacted); null for uploads only.',
      resolve: (project) => (project.sourceUrl ? redactSourceUrl(project.sourceUrl) : null),
    }),
    productionBranch: t.exposeString('productionBranch', {
      description: 'The branch that deploys to production; other refs deploy to preview.',
    }),
    rootDirectory: t.exposeString('rootDirectory', {
      description: 'Where the app lives inside the repository; empty for its root.',
    }),
    framework: t.field({
      type: FrameworkEnum,
      nullable: true,
      description: 'What the last build detected; null before the first build.',
      resolve: (project) => project.framework as 'NODE' | 'STATIC' | null,
    }),
    installCommand: t.exposeString('installCommand', {
      nullable: true,
      description: 'Overrides the detected install command; null to detect (npm ci or npm install).',
    }),
    buildCommand: t.exposeString('buildCommand', {
      nullable: true,
      description:
        'Overrides the detected build command; null to detect (npm run build, if there is a build script).',
    }),
    startCommand: t.exposeString('startCommand', {
      nullable: true,
      description:
        'Overrides the detected start command; null to detect (npm start, or serve a static site).',
    }),
    healthcheckPath: t.exposeString('healthcheckPath', {
      description: 'The path that must answer with a success status before a deployment is READY.',
    }),
    environments: t.field({
      type: [EnvironmentType],
      description: 'Its environments: production, preview, then custom ones.',
      resolve: (project, _, ctx) => ctx.services.environments.ofProject(ctx, project),
    }),
    productionDeployment: t.field({
      type: DeploymentType,
      nullable: true,
      description: 'The deployment the production URL serves; null before the first production deployment.',
      resolve: (project, _, ctx) =>
        project.productionDeploymentId
          ? ctx.services.deployments.visible(ctx, project.productionDeploymentId)
          : null,
    }),
    productionPinned: t.exposeBoolean('productionPinned', {
      description:
        'True after a rollback: new production deployments do not take over the production URL until one is promoted.',
    }),
    deployments: t.connection(
      {
        type: DeploymentType,
        description: 'Its deployments, newest first.',
        args: {
          environment: t.arg.string({
            required: false,
            description: 'Only those of the environment with this name.',
          }),
          status: t.arg({
            type: [DeploymentStatusEnum],
            required: false,
            description: 'Only those in one of these statuses.',
          }),
        },
        resolve: (project, args, ctx) => ctx.services.deployments.ofProject(ctx, project, args),
      },
      { name: 'DeploymentConnection', description: 'A page of deployments.' },
      { name: 'DeploymentEdge', description: 'A deployment in a page of deployments.' },
    ),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the project was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When its settings last changed.' }),
  }),
});

// Here rather than in deployment.ts: Project already refers to Deployment.
builder.objectField(DeploymentType, 'project', (t) =>
  t.field({
    type: ProjectType,
    // Null once the project is deleted: its deployments stay readable for the record.
    nullable: true,
    description: 'The project it belongs to; null once the project is deleted.',
    resolve: (deployment, _, ctx) => ctx.services.projects.visible(ctx, deployment.projectId),
  }),
);

builder.asEntity(ProjectType, {
  // By ID, or by organization and slug: accounts' `projectBySlug` knows the organization's ID
  // only from its slug, and hands this second key over.
  key: [
    builder.selection<{ id: string }>('id'),
    builder.selection<{ organization: { id: string }; slug: string }>('organization { id } slug'),
  ],
  resolveReference: (ref, ctx) => ctx.services.projects.reference(ctx, ref),
});

OrganizationRef.implement({
  description: 'A team: the owner of projects, domains and billing, with members in roles.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`org_…`).' }),
    projects: t.connection(
      {
        type: ProjectType,
        // Added to an accounts type: nullable so a deployments outage leaves the organization readable.
        nullable: true,
        authScopes: (organization) => ({ role: { organizationId: organization.id, atLeast: 'VIEWER' } }),
        description: 'The organization’s projects, oldest first (members from VIEWER up; not BILLING).',
        resolve: (organization, args, ctx) =>
          ctx.services.projects.ofOrganization(ctx, organization.id, args),
      },
      { name: 'ProjectConnection', description: 'A page of projects.' },
      { name: 'ProjectEdge', description: 'A project in a page of projects.' },
    ),
  }),
});

builder.queryFields((t) => ({
  project: t.field({
    type: ProjectType,
    nullable: true,
    description:
      'The project with this ID, or null if there is none or you are not a member of its organization.',
    args: { id: t.arg.id({ required: true, description: 'The project’s ID.' }) },
    resolve: (_, { id }, ctx) => ctx.services.projects.visible(ctx, id),
  }),
}));
