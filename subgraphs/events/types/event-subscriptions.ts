import type { EventRow } from '../../../db/events/schema';
import type { PlatformEvent } from '../../common/platform-events';
import { builder } from '../builder';
import type { EventsContext } from '../context';
import { assertCanRead, canRead, eventTypesArgument } from '../services/events';
import { createEventsLoaders } from '../storage';
import { EventType } from './event';

/**
 * Each event as the log recorded it, read fresh: a subscription's context lives as long as the
 * subscription, so its loaders would otherwise hold rows for ever.
 */
async function* recordedEvents(
  ctx: EventsContext,
  organizationId: string,
  published: AsyncIterable<PlatformEvent>,
  types: string[] | undefined,
): AsyncGenerator<EventRow> {
  for await (const event of published) {
    if (types && !types.includes(event.type)) continue;
    if (!canRead(ctx.caller, organizationId)) return;
    ctx.loaders = createEventsLoaders(ctx.storage);
    const row = await ctx.loaders.event.load(event.id);
    if (row && row.organizationId === organizationId) yield row;
  }
}

builder.subscriptionType({ description: 'Follow changes as they happen.' });

builder.subscriptionFields((t) => ({
  eventPublished: t.field({
    type: EventType,
    description:
      'Each event of the organization as it is recorded (VIEWER and up). Best effort, like every subscription: a client that reconnects reads what it missed from `events`.',
    args: {
      organizationId: t.arg.id({ required: true, description: 'The organization to follow.' }),
      types: t.arg.stringList({
        required: false,
        description: 'Only events of these types (names from `eventTypes`); all when left out.',
      }),
    },
    subscribe: (_, args, ctx) => {
      assertCanRead(ctx, args.organizationId);
      const types = eventTypesArgument(args.types);
      const published = ctx.events.pubsub.subscribe('event-published', args.organizationId);
      return recordedEvents(ctx, args.organizationId, published, types);
    },
    resolve: (row) => row as EventRow,
  }),
}));
