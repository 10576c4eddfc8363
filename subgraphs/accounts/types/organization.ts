import type { OrganizationRow } from '../../../db/accounts/schema';
import { builder } from '../builder';

export const OrganizationType = builder.objectRef<OrganizationRow>('Organization').implement({
  description: 'A team: the owner of projects, domains and billing, with members in roles.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque, stable identifier (`org_…`).' }),
    slug: t.exposeString('slug', {
      description: 'Unique, URL-safe handle (`acme`), used in URLs and the CLI.',
    }),
    name: t.exposeString('name', { description: 'Display name.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the organization was created.' }),
  }),
});

builder.asEntity(OrganizationType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => ctx.loaders.organization.load(ref.id),
});

builder.queryFields((t) => ({
  organization: t.field({
    type: OrganizationType,
    nullable: true,
    description: 'The organization with this slug, or null if there is none.',
    args: { slug: t.arg.string({ required: true, description: 'The organization’s slug.' }) },
    resolve: (_, { slug }, ctx) => ctx.storage.organizationBySlug(slug),
  }),
}));
