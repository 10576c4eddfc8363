import type { EventRow } from '../../../db/events/schema';
import { type Caller, hasRole } from '../../common/caller';
import { renewLoaders } from '../../common/context';
import { badUserInput, graphqlError, refusal } from '../../common/errors';
import { type ConnectionArgs, keysetConnection } from '../../common/pagination';
import { eventTypes, isEventType, type PlatformEvent } from '../../common/platform-events';
import type { EventBus } from '../../common/pubsub';
import type { EventsScope, EventsStorage } from '../storage';

/** Whether the caller may read an organization's events, endpoints and deliveries: VIEWER and up (users or keys). */
export function canRead(caller: Caller, organizationId: string): boolean {
  return hasRole(caller, organizationId, 'VIEWER');
}

/**
 * Refuses a caller who may not read the organization's events: UNAUTHENTICATED when anonymous,
 * otherwise NOT_FOUND, the answer for an organization that does not exist.
 */
function assertCanRead(caller: Caller, organizationId: string): void {
  if (caller.kind === 'anonymous') throw refusal(caller);
  if (!canRead(caller, organizationId)) throw graphqlError('NOT_FOUND', 'No such organization.');
}

/** Event types from an argument, each known; BAD_USER_INPUT naming the argument otherwise. */
function eventTypesArgument(types: readonly string[] | null | undefined, argument = 'types') {
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

/** A kind of platform event, as `eventTypes` lists it. */
export interface EventTypeInfo {
  name: string;
  description: string;
}

/** Which of an organization's events to follow or list: all of them, or those of some types. */
export interface EventsFilter {
  organizationId: string;
  types?: readonly string[] | null;
}

export interface EventsDependencies {
  storage: EventsStorage;
  /** Where recorded events are announced (`event-published`), for subscribers. */
  events: EventBus;
}

/** The event log: what each caller may read of it, listed, one by one, or as it is recorded. */
export function createEventsService({ storage, events }: EventsDependencies) {
  /**
   * Each event as the log recorded it, read fresh: the subscription's loaders live as long as
   * it does, and would otherwise hold rows for ever.
   */
  async function* recordedEvents(
    scope: EventsScope,
    organizationId: string,
    published: AsyncIterable<PlatformEvent>,
    types: string[] | undefined,
  ): AsyncGenerator<EventRow> {
    for await (const event of published) {
      if (types && !types.includes(event.type)) continue;
      if (!canRead(scope.caller, organizationId)) return;
      renewLoaders(scope.loaders);
      const row = await scope.loaders.event.load(event.id);
      if (row && row.organizationId === organizationId) yield row;
    }
  }

  return {
    /** Every event type of the platform, with what it means: public, it is documentation. */
    types(_scope: EventsScope): EventTypeInfo[] {
      return Object.entries(eventTypes).map(([name, description]) => ({ name, description }));
    },

    /** The event, if it exists and the caller may read its organization's events; null otherwise (no hint which). */
    async visible(scope: EventsScope, id: string): Promise<EventRow | null> {
      const event = await scope.loaders.event.load(id);
      return event && canRead(scope.caller, event.organizationId) ? event : null;
    },

    /** An organization's log, newest first, paged by recording order. */
    async ofOrganization(
      scope: EventsScope,
      { organizationId, types: typesArg, ...args }: EventsFilter & ConnectionArgs,
    ) {
      assertCanRead(scope.caller, organizationId);
      const types = eventTypesArgument(typesArg);
      if (types?.length === 0) return keysetConnection(args, async () => []);
      // The cursor is the recording sequence number: stable whatever is recorded meanwhile.
      const connection = await keysetConnection(args, async (page) =>
        (await storage.eventsOfOrganization(organizationId, types, page)).map((row) => ({
          id: String(row.seq),
          row,
        })),
      );
      return {
        ...connection,
        edges: connection.edges.map(({ cursor, node }) => ({ cursor, node: node.row })),
      };
    },

    /**
     * The organization's events as they are recorded (`eventPublished`). Refuses at once, before
     * any event, a caller who may not read them; the stream ends if they may no longer.
     */
    published(
      scope: EventsScope,
      { organizationId, types: typesArg }: EventsFilter,
    ): AsyncGenerator<EventRow> {
      assertCanRead(scope.caller, organizationId);
      const types = eventTypesArgument(typesArg);
      const published = events.pubsub.subscribe('event-published', organizationId);
      return recordedEvents(scope, organizationId, published, types);
    },
  };
}

export type EventsService = ReturnType<typeof createEventsService>;
