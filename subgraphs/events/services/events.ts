import type { EventRow } from '../../../db/events/schema';
import { type Caller, hasRole } from '../../common/caller';
import { badUserInput, graphqlError, refusal } from '../../common/errors';
import { type ConnectionArgs, keysetConnection } from '../../common/pagination';
import { isEventType } from '../../common/platform-events';
import type { EventsContext } from '../context';

/** Whether the caller may read an organization's events, endpoints and deliveries: VIEWER and up (users or keys). */
export function canRead(caller: Caller, organizationId: string): boolean {
  return hasRole(caller, organizationId, 'VIEWER');
}

/** The event, if it exists and the caller may read its organization's events; null otherwise (no hint which). */
export async function visibleEvent(ctx: EventsContext, id: string): Promise<EventRow | null> {
  const event = await ctx.loaders.event.load(id);
  return event && canRead(ctx.caller, event.organizationId) ? event : null;
}

/** Event types from an argument, each known; BAD_USER_INPUT naming the argument otherwise. */
export function eventTypesArgument(types: readonly string[] | null | undefined, argument = 'types') {
  if (!types) return undefined;
  const unknown = types.filter((type) => !isEventType(type));
  if (unknown.length > 0) {
    throw badUserInput(
      `\`${argument}\` names unknown event types: ${unknown.slice(0, 5).join(', ')}. Known types are listed by \`eventTypes\`.`,
      argument,
    );
  }
  return [...new Set(types)];
}

/**
 * Refuses a caller who may not read the organization's events: UNAUTHENTICATED when anonymous,
 * otherwise NOT_FOUND, the answer for an organization that does not exist.
 */
export function assertCanRead(ctx: EventsContext, organizationId: string): void {
  if (ctx.caller.kind === 'anonymous') throw refusal(ctx.caller);
  if (!canRead(ctx.caller, organizationId)) throw graphqlError('NOT_FOUND', 'No such organization.');
}

export async function eventsOfOrganization(
  ctx: EventsContext,
  organizationId: string,
  typesArg: readonly string[] | null | undefined,
  args: ConnectionArgs,
) {
  assertCanRead(ctx, organizationId);
  const types = eventTypesArgument(typesArg);
  if (types?.length === 0) return keysetConnection(args, async () => []);
  // The cursor is the recording sequence number: stable whatever is recorded meanwhile.
  const connection = await keysetConnection(args, async (page) =>
    (await ctx.storage.eventsOfOrganization(organizationId, types, page)).map((row) => ({
      id: String(row.seq),
      row,
    })),
  );
  return { ...connection, edges: connection.edges.map(({ cursor, node }) => ({ cursor, node: node.row })) };
}
