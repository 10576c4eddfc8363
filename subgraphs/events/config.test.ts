import { describe, expect, it } from 'vitest';
import { loadEventsConfig } from './config';

describe('loadEventsConfig', () => {
  it('defaults to a three-day retry schedule with jitter, and private networks allowed outside production', () => {
    const config = loadEventsConfig({}, false);
    expect(config.WEBHOOK_RETRY_SCHEDULE).toEqual([
      5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000, 36000,
    ]);
    expect(config.WEBHOOK_RETRY_SCHEDULE.reduce((a, b) => a + b, 0) / 86_400).toBeCloseTo(3.2, 1);
    expect(config.WEBHOOK_RETRY_JITTER).toBe(0.2);
    expect(config.WEBHOOK_TIMEOUT_MS).toBe(15_000);
    expect(config.WEBHOOK_DISABLE_AFTER_HOURS).toBe(120);
    expect(config.WEBHOOKS_ALLOW_PRIVATE_NETWORKS).toBe(true);
    expect(config.WEBHOOK_CONCURRENCY_PER_ENDPOINT).toBe(16);
    expect(config.consumerUrls).toEqual({ deployments: 'http://127.0.0.1:4002' });
  });

  it('refuses private networks in production unless told, and requires the encryption key there', () => {
    expect(() => loadEventsConfig({}, true)).toThrow(/EVENTS_ENCRYPTION_KEY: required in production/);
    expect(() => loadEventsConfig({}, true)).toThrow(/DEPLOYMENTS_URL: required in production/);
    const required = {
      EVENTS_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
      DEPLOYMENTS_URL: 'http://deployments:4002',
    };
    const production = loadEventsConfig(required, true);
    expect(production.WEBHOOKS_ALLOW_PRIVATE_NETWORKS).toBe(false);
    expect(production.consumerUrls).toEqual({ deployments: 'http://deployments:4002' });
    expect(
      loadEventsConfig({ ...required, WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true' }, true)
        .WEBHOOKS_ALLOW_PRIVATE_NETWORKS,
    ).toBe(true);
  });

  it('reads a custom schedule and refuses one it cannot', () => {
    expect(loadEventsConfig({ WEBHOOK_RETRY_SCHEDULE: '0.2, 1,60' }, false).WEBHOOK_RETRY_SCHEDULE).toEqual([
      0.2, 1, 60,
    ]);
    expect(() => loadEventsConfig({ WEBHOOK_RETRY_SCHEDULE: '5,soon' }, false)).toThrow(
      /WEBHOOK_RETRY_SCHEDULE/,
    );
    expect(() => loadEventsConfig({ WEBHOOK_RETRY_SCHEDULE: '-1' }, false)).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
    expect(() => loadEventsConfig({ WEBHOOK_RETRY_JITTER: '2' }, false)).toThrow(/WEBHOOK_RETRY_JITTER/);
  });
});
