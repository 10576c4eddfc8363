import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { Caller } from '../../subgraphs/common/caller';
import type { PlatformEvent } from '../../subgraphs/common/platform-events';
import { events } from '../../subgraphs/events/index';
import type { EventsServices } from '../../subgraphs/events/services';
import type { CreateWebhookEndpointInput } from '../../subgraphs/events/services/endpoints';
import type { EventsLoaders } from '../../subgraphs/events/storage';
import { type ServiceTestbed, startServices } from './services';

/**
 * What tests of the events subgraph share: platform events as an emitter makes them (the
 * supergraph tests relay them, the service tests record them), and the events services on a
 * database of their own.
 */

export function platformEvent(organizationId: string, fields: Partial<PlatformEvent> = {}): PlatformEvent {
  return {
    id: `evt_${randomUUID().replaceAll('-', '')}`,
    type: 'project.created',
    organizationId,
    actor: { kind: 'system', userId: null, apiKeyId: null },
    source: 'deployments',
    subjects: { projectId: `prj_${randomUUID().replaceAll('-', '').slice(0, 26).toUpperCase()}` },
    payload: { name: 'web' },
    occurredAt: new Date().toISOString(),
    ...fields,
  };
}

export type EventsTestbed = ServiceTestbed<EventsServices, EventsLoaders>;

/**
 * The events services with delivery workers that poll often, so a webhook arrives within a
 * test's patience, and nothing listening where events would be forwarded to deployments.
 */
export const startEventsServices = (env: Record<string, string> = {}): Promise<EventsTestbed> =>
  startServices(events, {
    WEBHOOK_POLL_INTERVAL_MS: '50',
    DEPLOYMENTS_URL: 'http://127.0.0.1:9',
    ...env,
  });

/** Creates an endpoint that must be accepted. */
export async function createEndpoint(
  testbed: EventsTestbed,
  caller: Caller,
  input: CreateWebhookEndpointInput,
) {
  const created = await testbed.services.endpoints.create(testbed.scope(caller), input);
  expect(created.userErrors).toEqual([]);
  return created.webhookEndpoint!;
}
