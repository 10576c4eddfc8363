import { describe, expect, it } from 'vitest';
import { eventsSettings } from './config';

describe('eventsSettings', () => {
  it('defaults to a three-day retry schedule with jitter, and private networks allowed outside production', () => {
    const settings = eventsSettings.parse({});
    expect(settings.WEBHOOK_RETRY_SCHEDULE).toEqual([
      5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000, 36000,
    ]);
    expect(settings.WEBHOOK_RETRY_SCHEDULE.reduce((a, b) => a + b, 0) / 86_400).toBeCloseTo(3.2, 1);
    expect(settings.WEBHOOK_RETRY_JITTER).toBe(0.2);
    expect(settings.WEBHOOK_TIMEOUT_MS).toBe(15_000);
    expect(settings.WEBHOOK_DISABLE_AFTER_HOURS).toBe(120);
    expect(settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS).toBe(true);
    expect(settings.WEBHOOK_CONCURRENCY_PER_ENDPOINT).toBe(16);
    expect(settings.EVENT_CONSUMER_URLS).toEqual({ deployments: 'http://127.0.0.1:4002' });
  });

  it('refuses private networks in production unless told, and requires the encryption key there', () => {
    const production = { NODE_ENV: 'production' };
    expect(() => eventsSettings.parse(production)).toThrow(/EVENTS_ENCRYPTION_KEY: required in production/);
    expect(() => eventsSettings.parse(production)).toThrow(/DEPLOYMENTS_URL: required in production/);
    const required = {
      ...production,
      EVENTS_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
      DEPLOYMENTS_URL: 'http://deployments:4002',
    };
    const settings = eventsSettings.parse(required);
    expect(settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS).toBe(false);
    expect(settings.EVENT_CONSUMER_URLS).toEqual({ deployments: 'http://deployments:4002' });
    expect(
      eventsSettings.parse({ ...required, WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true' })
        .WEBHOOKS_ALLOW_PRIVATE_NETWORKS,
    ).toBe(true);
  });

  it('reads a custom schedule and refuses one it cannot', () => {
    expect(eventsSettings.parse({ WEBHOOK_RETRY_SCHEDULE: '0.2, 1,60' }).WEBHOOK_RETRY_SCHEDULE).toEqual([
      0.2, 1, 60,
    ]);
    expect(() => eventsSettings.parse({ WEBHOOK_RETRY_SCHEDULE: '5,soon' })).toThrow(
      /WEBHOOK_RETRY_SCHEDULE/,
    );
    expect(() => eventsSettings.parse({ WEBHOOK_RETRY_SCHEDULE: '-1' })).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
    expect(() => eventsSettings.parse({ WEBHOOK_RETRY_JITTER: '2' })).toThrow(/WEBHOOK_RETRY_JITTER/);
  });
});
