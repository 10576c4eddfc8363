import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkUrl,
  guardedLookup,
  MAX_URL_LENGTH,
  parseIPv6,
  privateAddressReason,
  RefusedTarget,
  resolveChecked,
} from './ssrf';

const guard = { allowPrivateNetworks: false };
const open = { allowPrivateNetworks: true };

describe('privateAddressReason', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '100.64.0.1',
    '100.127.255.255',
    '169.254.169.254',
    '169.254.0.1',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '240.0.0.1',
    '192.0.2.10',
    '198.18.0.1',
    '::',
    '::1',
    'fe80::1',
    'fe80::1%eth0',
    'febf::1',
    'fc00::1',
    'fd12:3456:789a::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.1.2.3',
    '::ffff:169.254.169.254',
    '::127.0.0.1',
    '::a00:1',
    '64:ff9b::7f00:1',
    '64:ff9b::10.0.0.1',
    '64:ff9b::169.254.169.254',
    '64:ff9b:1::1',
    '2002:7f00:1::1',
    '2002:a9fe:a9fe::',
    '2002:c0a8:101::1',
    '2001:db8::1',
    '2001::1',
    '100::1',
    '[::1]',
  ])('refuses %s', (address) => {
    expect(privateAddressReason(address)).not.toBeNull();
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.215.14',
    '172.15.255.255',
    '172.32.0.1',
    '100.63.255.255',
    '100.128.0.1',
    '169.253.255.255',
    '11.0.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
  ])('allows the public address %s', (address) => {
    expect(privateAddressReason(address)).toBeNull();
  });

  it('parses IPv6 forms with and without an embedded IPv4 address', () => {
    expect(parseIPv6('::')).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('::1')).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIPv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(parseIPv6('1:2:3:4:5:6:7.8.9.10')).toEqual([1, 2, 3, 4, 5, 6, 0x0708, 0x090a]);
    expect(parseIPv6('2001:db8::8:800:200c:417a')).toEqual([0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a]);
    expect(parseIPv6('fe80::')).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('1.2.3.4')).toBeNull();
    expect(parseIPv6('example.com')).toBeNull();
  });
});

describe('checkUrl', () => {
  it.each([
    ['http://127.0.0.1/hook'],
    ['http://2130706433/'],
    ['http://0177.0.0.1/'],
    ['http://0x7f.0.0.1/'],
    ['http://0x7f000001/'],
    ['http://127.1/'],
    ['http://[::1]/'],
    ['http://[::ffff:127.0.0.1]/'],
    ['http://[0:0:0:0:0:ffff:7f00:1]/'],
    ['https://169.254.169.254/latest/meta-data/'],
    ['http://[fe80::1]/'],
    ['http://[64:ff9b::a9fe:a9fe]/'],
    ['http://0.0.0.0:8080/'],
    ['http://10.0.0.1:5432/'],
  ])('refuses %s when private networks are not allowed', (url) => {
    const result = checkUrl(url, guard);
    expect(result.ok).toBe(false);
    expect(checkUrl(url, open).ok).toBe(true);
  });

  it.each([
    ['ftp://example.com/', 'http'],
    ['file:///etc/passwd', 'http'],
    ['javascript:alert(1)', 'http'],
    ['gopher://example.com/', 'http'],
    ['not a url', 'valid URL'],
    ['/relative/path', 'valid URL'],
    ['https://user:secret@example.com/', 'credentials'],
    ['https://user@example.com/', 'credentials'],
  ])('refuses %s in every mode', (url, message) => {
    for (const options of [guard, open]) {
      const result = checkUrl(url, options);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).toContain(message);
    }
  });

  it('refuses URLs longer than 2048 characters and accepts one of exactly 2048', () => {
    const base = 'https://example.com/';
    expect(checkUrl(base + 'a'.repeat(MAX_URL_LENGTH - base.length), guard).ok).toBe(true);
    const long = checkUrl(base + 'a'.repeat(MAX_URL_LENGTH - base.length + 1), guard);
    expect(long.ok).toBe(false);
    if (!long.ok) expect(long.message).toContain('2048');
  });

  it('accepts public URLs and host names (their addresses are checked at connection time)', () => {
    expect(checkUrl('https://hooks.example.com/construct?x=1', guard).ok).toBe(true);
    expect(checkUrl('http://8.8.8.8:8080/', guard).ok).toBe(true);
    expect(checkUrl('https://localhost/', guard).ok).toBe(true);
  });
});

describe('resolveChecked', () => {
  const answers = (map: Record<string, string[]>) => async (host: string) =>
    (map[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('refuses a name if any of its addresses is private, even when another is public', async () => {
    const resolve = answers({ 'mixed.test': ['93.184.215.14', '10.0.0.5'] });
    await expect(resolveChecked('mixed.test', guard, resolve)).rejects.toBeInstanceOf(RefusedTarget);
  });

  it('refuses names whose AAAA record is loopback or IPv4-mapped private', async () => {
    const resolve = answers({ 'v6.test': ['2606:4700::1', '::1'], 'mapped.test': ['::ffff:192.168.0.1'] });
    await expect(resolveChecked('v6.test', guard, resolve)).rejects.toThrow(/resolves to/);
    await expect(resolveChecked('mapped.test', guard, resolve)).rejects.toThrow(/resolves to/);
  });

  it('keeps the refused address out of the message', async () => {
    const resolve = answers({ 'inside.test': ['10.20.30.40'] });
    const error = await resolveChecked('inside.test', guard, resolve).catch((e: Error) => e);
    expect(String((error as Error).message)).not.toContain('10.20.30.40');
  });

  it('returns every address of a public name, and private ones when they are allowed', async () => {
    const resolve = answers({ 'pub.test': ['93.184.215.14', '2606:4700::1'], 'lan.test': ['192.168.1.2'] });
    await expect(resolveChecked('pub.test', guard, resolve)).resolves.toHaveLength(2);
    await expect(resolveChecked('lan.test', open, resolve)).resolves.toEqual([
      { address: '192.168.1.2', family: 4 },
    ]);
  });

  it('checks the real resolver: localhost is loopback', async () => {
    await expect(resolveChecked('localhost', guard)).rejects.toBeInstanceOf(RefusedTarget);
  });
});

describe('guardedLookup in a real connection', () => {
  let server: ReturnType<typeof createServer>;
  let port: number;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('connects to the address it approved and refuses before connecting otherwise', async () => {
    // A resolver that answers differently each time (DNS rebinding): the first answer is the
    // one checked and used, so a public first answer can never turn into a private connect.
    let calls = 0;
    const rebinding = async () => {
      calls++;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const allowed = new Agent({ connect: { lookup: guardedLookup(open, rebinding) } });
    const response = await request(`http://rebind.test:${port}/`, { dispatcher: allowed });
    expect(await response.body.text()).toBe('ok');
    expect(calls).toBe(1);

    const before = hits;
    const refused = new Agent({ connect: { lookup: guardedLookup(guard, rebinding) } });
    const error = await request(`http://rebind.test:${port}/`, { dispatcher: refused }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String(error.message)).toContain('refused');
    expect(hits).toBe(before);
    await Promise.all([allowed.close(), refused.close()]);
  });
});
