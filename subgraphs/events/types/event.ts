import type { EventRow } from '../../../db/events/schema';
import { builder, JSONObjectScalar } from '../builder';
import { EventActorKindEnum } from './enums';
import { OrganizationRef } from './organization';
import { UserRef } from './user';

const EventActorType = builder.objectRef<EventRow>('EventActor').implement({
  description: 'Who caused an event: a user, a program with an API key, or the platform itself.',
  fields: (t) => ({
    kind: t.field({
      type: EventActorKindEnum,
      description: 'Whether a user, an API key or the system acted.',
      resolve: (event) => event.actorKind,
    }),
    user: t.field({
      type: UserRef,
      // Resolved by accounts: nullable so an accounts outage degrades only this field.
      nullable: true,
      description: 'The user who acted (for an API key, the user who created it); null for the system.',
      resolve: (event) => (event.actorUserId ? { id: event.actorUserId } : null),
    }),
    apiKeyId: t.exposeID('actorApiKeyId', {
      nullable: true,
      description: 'The API key that acted (`key_…`), if one did.',
    }),
  }),
});

export const EventType = builder.objectRef<EventRow>('Event').implement({
  description:
    'Something that happened in an organization (a deployment became ready, a member joined), recorded once. Webhooks deliver the same event.',
  // Defence in depth: whatever path returns an event, only its organization's members read it.
  authScopes: (event) => ({ role: { organizationId: event.organizationId, atLeast: 'VIEWER' } }),
  fields: (t) => ({
    id: t.exposeID('id', {
      description: 'Opaque, stable identifier (`evt_…`): also the `webhook-id` of its webhook deliveries.',
    }),
    type: t.exposeString('type', {
      description: 'What happened, as `<subject>.<past tense>` (`deployment.ready`); see `eventTypes`.',
    }),
    organization: t.field({
      type: OrganizationRef,
      // Resolved by accounts: nullable so an accounts outage degrades only this field.
      nullable: true,
      description: 'The organization it happened in.',
      resolve: (event) => ({ id: event.organizationId }),
    }),
    actor: t.field({
      type: EventActorType,
      description: 'Who caused it.',
      resolve: (event) => event,
    }),
    source: t.exposeString('source', {
      description: 'The part of the platform that recorded it (`deployments`, `accounts`, `events`).',
    }),
    subjects: t.field({
      type: JSONObjectScalar,
      description:
        'The IDs of what it is about, by kind: `{"projectId": "prj_…", "deploymentId": "dpl_…"}`. The same object webhooks receive.',
      resolve: (event) => event.subjects,
    }),
    payload: t.field({
      type: JSONObjectScalar,
      description: 'What a receiver needs without calling back (a status, a name, an error message).',
      resolve: (event) => event.payload,
    }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime', description: 'When it happened.' }),
    recordedAt: t.expose('recordedAt', { type: 'DateTime', description: 'When the event log recorded it.' }),
  }),
});

builder.asEntity(EventType, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx) => ctx.services.events.visible(ctx, ref.id),
});

builder.queryFields((t) => ({
  event: t.field({
    type: EventType,
    nullable: true,
    description:
      'The event with this ID, or null if there is none or you cannot read its organization’s events.',
    args: { id: t.arg.id({ required: true, description: 'The event’s ID.' }) },
    resolve: (_, { id }, ctx) => ctx.services.events.visible(ctx, id),
  }),
  events: t.connection(
    {
      type: EventType,
      description:
        'An organization’s event log, newest first (members from VIEWER up, and API keys). Cursors stay valid as new events arrive.',
      args: {
        organizationId: t.arg.id({ required: true, description: 'The organization whose events to list.' }),
        types: t.arg.stringList({
          required: false,
          description: 'Only events of these types (names from `eventTypes`).',
        }),
      },
      resolve: (_, args, ctx) => ctx.services.events.ofOrganization(ctx, args),
    },
    { name: 'EventConnection', description: 'A page of events.' },
    { name: 'EventEdge', description: 'An event in a page of events.' },
  ),
}));
