import { timestamp } from 'drizzle-orm/pg-core';

/** A point in time, stored with its time zone (every timestamp of every database is one). */
export const at = (name: string) => timestamp(name, { withTimezone: true });

/** When the row was made, by the database's clock. */
export const createdAt = () => at('created_at').notNull().defaultNow();

/** When the row last changed: set by the writes that change it. */
export const updatedAt = () => at('updated_at').notNull().defaultNow();
