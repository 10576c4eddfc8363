import type { EventRow } from '../../../db/events/schema';
import { builder } from '../builder';
import { EventType } from './event';

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
    subscribe: (_, args, ctx) => ctx.services.events.published(ctx, args),
    resolve: (row) => row as EventRow,
  }),
}));
