import { index, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const projects = pgTable(
  'projects',
  {
    id: text('id').primaryKey(),
    // Owned by accounts: an ID only, never a foreign key into another subgraph's database.
    organizationId: text('organization_id').notNull(),
    name: text('name').notNull(),
    slug: text('slug').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('projects_organization_slug_key').on(t.organizationId, t.slug),
    // Organization.projects pages by (organization, id).
    index('projects_organization_id_idx').on(t.organizationId, t.id),
  ],
);

export type ProjectRow = typeof projects.$inferSelect;
