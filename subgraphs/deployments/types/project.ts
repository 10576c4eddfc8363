import type { ProjectRow } from '../../../db/deployments/schema';
import { keysetConnection } from '../../common/pagination';
import { builder } from '../builder';
import { OrganizationRef } from './organization';

export const ProjectType = builder.objectRef<ProjectRow>('Project').implement({
  description: 'An application deployed from one source, with its environments and deployments.',
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
  resolveReference: (ref, ctx) => ctx.loaders.project.load(ref.id),
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
        description: 'The organization’s projects, oldest first.',
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
    description: 'The project with this ID, or null if there is none.',
    args: { id: t.arg.id({ required: true, description: 'The project’s ID.' }) },
    resolve: (_, { id }, ctx) => ctx.loaders.project.load(id),
  }),
}));
