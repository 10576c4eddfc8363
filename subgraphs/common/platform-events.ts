import type { Actor } from './caller';

/**
 * Every event type of the platform, with what it means. The events subgraph serves this list
 * (an unknown type is a user error), webhooks subscribe to these names, and a subgraph may emit
 * only these. Names are `<subject>.<past tense>`, as Stripe and GitHub name theirs.
 */
export const eventTypes = {
  'deployment.created': 'A deployment was queued (by a push, an upload, a redeploy).',
  'deployment.ready': 'A deployment built, passed its health check and serves its URL.',
  'deployment.error': 'A deployment failed (its step and message are in the payload).',
  'deployment.canceled': 'A deployment was canceled before it became ready.',
  'deployment.crashed': 'A ready deployment stopped and could not be restarted.',
  'deployment.promoted': 'A deployment became its project’s production deployment (promotion or rollback).',
  'project.created': 'A project was created.',
  'project.deleted': 'A project was deleted, with its deployments.',
  'organization.deleted': 'The organization was deleted; its projects and deployments go with it.',
  'member.added': 'Someone joined the organization.',
  'member.removed': 'Someone left or was removed from the organization.',
  'member.role_changed': 'A member’s role changed.',
  'api_key.created': 'An API key was created.',
  'api_key.revoked': 'An API key was revoked (or replaced by rotation).',
  'webhook_endpoint.disabled':
    'A webhook endpoint was disabled (it answered 410, failed for days, or an admin disabled it).',
  'webhook.test': 'Sent by `sendTestWebhook`, to one endpoint only.',
} as const;

export type EventType = keyof typeof eventTypes;
export const eventTypeNames = Object.keys(eventTypes) as EventType[];

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(eventTypes, type);
}

/**
 * Subgraphs that act on events other subgraphs emit, and the types each acts on. The events
 * subgraph forwards every event of these types it records to the consumer's `/internal/events`
 * (`EVENT_CONSUMER_URLS` says where), durably and until it answers 2xx: the one way a change in
 * one domain reaches another's data without either reading the other's tables.
 */
export const eventConsumers = {
  /** A deleted organization's projects are deleted: their apps stop and their URLs go dark. */
  deployments: ['organization.deleted'],
} as const satisfies Record<string, readonly EventType[]>;

export type EventConsumer = keyof typeof eventConsumers;
export const eventConsumerNames = Object.keys(eventConsumers) as EventConsumer[];

/**
 * One platform event, as emitted and as delivered (a webhook's body is this, as JSON). `id` is
 * made by the emitter and is the idempotency key all the way to the receiver (`webhook-id`).
 */
export interface PlatformEvent {
  id: string;
  type: EventType;
  /** The organization it belongs to: who may read it and whose webhooks receive it. */
  organizationId: string;
  actor: Actor;
  /** The subgraph that emitted it. */
  source: string;
  /** IDs of what it is about, by kind: `{ projectId, deploymentId }`. */
  subjects: Record<string, string>;
  /** What a receiver needs without calling back (status, names, error message); JSON. */
  payload: Record<string, unknown>;
  /** When the change happened (its transaction), ISO 8601. */
  occurredAt: string;
}
