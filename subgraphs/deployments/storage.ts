import DataLoader from 'dataloader';
import { and, eq, inArray } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import { type ProjectRow, projects } from '../../db/deployments/schema';
import { newId } from '../../db/ids';
import { byId } from '../common/loaders';
import { keysetOrder, keysetRange, type PageQuery } from '../common/pagination';

/** Everything deployments reads and writes in its own database. */
export function createDeploymentsStorage(pool: pg.Pool) {
  const db = drizzle({ client: pool });

  return {
    async projectsByIds(ids: readonly string[]): Promise<ProjectRow[]> {
      return db
        .select()
        .from(projects)
        .where(inArray(projects.id, [...ids]));
    },
    async projectsOfOrganization(organizationId: string, page: PageQuery): Promise<ProjectRow[]> {
      return db
        .select()
        .from(projects)
        .where(and(eq(projects.organizationId, organizationId), keysetRange(projects.id, page)))
        .orderBy(keysetOrder(projects.id, page))
        .limit(page.limit);
    },
    async insertProject(values: { organizationId: string; name: string; slug: string }): Promise<ProjectRow> {
      const [row] = await db
        .insert(projects)
        .values({ id: newId('prj'), ...values })
        .returning();
      return row!;
    },
  };
}

export type DeploymentsStorage = ReturnType<typeof createDeploymentsStorage>;

export function createDeploymentsLoaders(storage: DeploymentsStorage) {
  return {
    project: new DataLoader<string, ProjectRow | null>(async (ids) =>
      byId(ids, await storage.projectsByIds(ids)),
    ),
  };
}
