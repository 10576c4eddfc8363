import { afterEach, describe, expect, it } from 'vitest';
import { testEnvironment } from '../../test/support/environment';
import { startTcpProxy, type TcpProxy } from '../../test/support/gateway-tcp-proxy';
import { createEventBus, type EventBus } from './pubsub';

const { redisUrl } = testEnvironment;
const opened: EventBus[] = [];
let proxy: TcpProxy | undefined;

afterEach(async () => {
  await Promise.all(opened.splice(0).map((bus) => bus.close()));
  await proxy?.close();
  proxy = undefined;
});

describe.skipIf(!redisUrl)('the Redis event bus', () => {
  it('subscribes again by itself after losing its connection, and survives the outage', async () => {
    proxy = await startTcpProxy(redisUrl!);
    const listener = createEventBus(proxy.url);
    const publisher = createEventBus(redisUrl);
    opened.push(listener, publisher);
    const heard: string[] = [];
    const iterator = listener.pubsub.subscribe('api-key-changed');
    void (async () => {
      for await (const id of iterator) heard.push(id);
    })();
    // Publishes `id` until the listener hears it (its subscription is made asynchronously).
    const publishUntilHeard = async (id: string) => {
      const deadline = Date.now() + 10_000;
      while (!heard.includes(id)) {
        if (Date.now() > deadline) throw new Error(`${id} never heard; heard ${JSON.stringify(heard)}`);
        await publisher.pubsub.publish('api-key-changed', id);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    await publishUntilHeard('key_before');
    await proxy.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await proxy.start();
    await publishUntilHeard('key_after');
    expect(heard).toContain('key_after');
    await iterator.return?.();
  });
});
