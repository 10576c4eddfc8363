import type { ProjectRow } from '../../../db/deployments/schema';
import { keysetConnection } from '../../common/pagination';
import { builder } from '../builder';
import { visibleProject } from '../services/projects';
import { OrganizationRef } from './organization';

export const ProjectType = builder.objectRef<ProjectRow>('Project').implement({
  description: 'An application deployed from one source, with its environments and deployments.',
  // Defence in depth: whatever path returns a project (a root field, a nested field, the
  // gateway's `_entities`), only members of its organization see it.
  authScopes: (project) => ({ member: project.organizationId }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`prj_…`).' }),
    name: t.exposeString('name', { description: 'Display name.' }),
    slug: t.exposeString('slug', {
      description: 'Handle, unique within the organization; part of the project’s URL.',
    }),
    organization: t.field({
      type: OrganizationRef,
      // Resolved by accounts: nullable so an accounts outage degrades only this field.
      nullable: true,
      description: 'The organization that owns the project.',
      resolve: (project) => ({ id: project.organizationId }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the project was created.' }),
  }),
});

builder.asEntity(ProjectType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => visibleProject(ctx, ref.id),
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
        authScopes: (organization) => ({ member: organization.id }),
        description: 'The organization’s projects, oldest first (members only).',
        resolve: (organization, args, ctx) =>
          keysetConnection(args, (page) => ctx.storage.projectsOfOrganization(organization.id, page)),
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
    resolve: (_, { id }, ctx) => visibleProject(ctx, id),
  }),
}));
