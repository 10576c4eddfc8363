import { builder } from '../builder';
import type { EventTypeInfo } from '../services/events';

export const EventTypeInfoType = builder.objectRef<EventTypeInfo>('EventTypeInfo').implement({
  description: 'A kind of platform event: what webhooks subscribe to and event lists filter by.',
  fields: (t) => ({
    name: t.exposeString('name', {
      description: 'The type’s name, as in `Event.type` (`deployment.ready`).',
    }),
    description: t.exposeString('description', {
      description: 'What happened when an event of this type is recorded.',
    }),
  }),
});

builder.queryFields((t) => ({
  eventTypes: t.field({
    type: [EventTypeInfoType],
    description: 'Every event type of the platform, with what it means. Public: it is documentation.',
    resolve: (_, __, ctx) => ctx.services.events.types(ctx),
  }),
}));
