import { builder } from '../builder';
import type { ProjectKey } from '../services/organizations';
import { OrganizationType } from './refs';

/**
 * Projects belong to deployments, which knows organizations by ID only. Accounts turns an
 * organization's slug into its ID and hands the gateway a Project key (`organization { id }
 * slug`) that deployments resolves and authorizes; accounts never reads a project.
 */
const ProjectKeyRef = builder.externalRef(
  'Project',
  builder.keyDirective(builder.selection<ProjectKey>('organization { id } slug'), false),
);

ProjectKeyRef.implement({
  externalFields: (t) => ({
    slug: t.string({ description: 'Handle, unique within the organization.' }),
  }),
  fields: (t) => ({
    organization: t.field({
      type: OrganizationType,
      nullable: true,
      description: 'The organization that owns the project.',
      resolve: (key, _, ctx) => ctx.services.organizations.visible(ctx, key.organization.id),
    }),
  }),
});

builder.queryFields((t) => ({
  projectBySlug: t.field({
    type: ProjectKeyRef,
    nullable: true,
    description:
      'The project with this slug in the organization with this slug, or null if there is none or you are not a member.',
    args: {
      organizationSlug: t.arg.string({ required: true, description: 'The organization’s slug.' }),
      slug: t.arg.string({ required: true, description: 'The project’s slug.' }),
    },
    resolve: (_, args, ctx) => ctx.services.organizations.projectKey(ctx, args),
  }),
}));
