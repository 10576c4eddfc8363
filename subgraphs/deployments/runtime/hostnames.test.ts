import { describe, expect, it } from 'vitest';
import { newId } from '../../../db/ids';
import {
  deploymentIdFromLabel,
  deploymentLabel,
  edgeUrl,
  hostFromHeader,
  isDeploymentId,
  isHostLabel,
  labelFromHost,
  normalizeBaseDomain,
} from './hostnames';

const ID = 'dpl_01JABCDEFGHJKMNPQRSTVWXYZ0';
const LABEL = 'dpl-01jabcdefghjkmnpqrstvwxyz0';

describe('deployment labels', () => {
  it('lowercases the ID and turns its underscore into a hyphen', () => {
    expect(deploymentLabel(ID)).toBe(LABEL);
    expect(isHostLabel(deploymentLabel(ID))).toBe(true);
  });

  it('reverses exactly, for IDs as newId makes them', () => {
    expect(deploymentIdFromLabel(LABEL)).toBe(ID);
    for (let i = 0; i < 200; i++) {
      const id = newId('dpl', Date.now() + i * 7_919_000);
      expect(isDeploymentId(id)).toBe(true);
      expect(deploymentIdFromLabel(deploymentLabel(id))).toBe(id);
    }
  });

  it('reads labels case-insensitively, as hosts are', () => {
    expect(deploymentIdFromLabel(LABEL.toUpperCase())).toBe(ID);
  });

  it('is null for labels that are not a deployment', () => {
    for (const label of [
      'shop',
      'dpl',
      'dpl-',
      `${LABEL}0`, // 27 characters
      LABEL.slice(0, -1), // 25 characters
      'dpl_01jabcdefghjkmnpqrstvwxyz0', // underscore
      'prj-01jabcdefghjkmnpqrstvwxyz0', // another kind of ID
      'dpl-01jabcdefghjkmnpqrstvwxyzu', // U is not Crockford base32
      'dpl-01jabcdefghjkmnpqrstvwxyzi',
      'dpl-01jabcdefghjkmnpqrstvwxyzl',
      'dpl-01jabcdefghjkmnpqrstvwxyzo',
      'dpl-01jabcdefghjkmnpqrstvwxy-0',
      `${LABEL}.localhost`,
      '',
    ]) {
      expect(deploymentIdFromLabel(label), label).toBeNull();
    }
  });

  it('refuses to make a label from something that is not a deployment ID', () => {
    expect(() => deploymentLabel('prj_01JABCDEFGHJKMNPQRSTVWXYZ0')).toThrow(RangeError);
    expect(() => deploymentLabel(LABEL)).toThrow(RangeError);
    expect(() => deploymentLabel(ID.toLowerCase())).toThrow(RangeError);
  });
});

describe('isHostLabel', () => {
  it('accepts DNS labels', () => {
    for (const label of ['a', '0', 'shop', 'my-shop-2', 'xn--bcher-kva', 'a'.repeat(63), LABEL]) {
      expect(isHostLabel(label), label).toBe(true);
    }
  });

  it('refuses anything else', () => {
    for (const label of [
      '',
      '-shop',
      'shop-',
      '-',
      'Shop',
      'my_shop',
      'my.shop',
      'my shop',
      'shöp',
      'a'.repeat(64),
      'shop\n',
    ]) {
      expect(isHostLabel(label), JSON.stringify(label)).toBe(false);
    }
  });
});

describe('edgeUrl', () => {
  it('puts the label under the base domain', () => {
    expect(edgeUrl(LABEL, { scheme: 'http', baseDomain: 'localhost', port: 4080 })).toBe(
      `http://${LABEL}.localhost:4080`,
    );
    expect(edgeUrl('shop', { scheme: 'https', baseDomain: 'apps.example.com', port: 8443 })).toBe(
      'https://shop.apps.example.com:8443',
    );
  });

  it("omits the scheme's default port", () => {
    expect(edgeUrl('shop', { scheme: 'http', baseDomain: 'example.com', port: 80 })).toBe(
      'http://shop.example.com',
    );
    expect(edgeUrl('shop', { scheme: 'https', baseDomain: 'example.com', port: 443 })).toBe(
      'https://shop.example.com',
    );
    expect(edgeUrl('shop', { scheme: 'https', baseDomain: 'example.com' })).toBe('https://shop.example.com');
    expect(edgeUrl('shop', { scheme: 'http', baseDomain: 'example.com', port: 443 })).toBe(
      'http://shop.example.com:443',
    );
  });

  it('normalizes the base domain', () => {
    expect(edgeUrl('shop', { scheme: 'https', baseDomain: '.Example.COM.' })).toBe(
      'https://shop.example.com',
    );
    expect(normalizeBaseDomain(' Localhost. ')).toBe('localhost');
  });

  it('refuses a label that cannot be a host', () => {
    expect(() => edgeUrl('my_shop', { scheme: 'http', baseDomain: 'localhost' })).toThrow(RangeError);
    expect(() => edgeUrl('evil.com/', { scheme: 'http', baseDomain: 'localhost' })).toThrow(RangeError);
  });
});

describe('reading a Host header', () => {
  it('lowercases and strips the port and the trailing dot', () => {
    expect(hostFromHeader('Shop.LocalHost:4080')).toBe('shop.localhost');
    expect(hostFromHeader('shop.localhost.')).toBe('shop.localhost');
    expect(hostFromHeader('shop.localhost.:4080')).toBe('shop.localhost');
    expect(hostFromHeader('127.0.0.1:4080')).toBe('127.0.0.1');
    expect(hostFromHeader('[::1]:4080')).toBe('[::1]');
    expect(hostFromHeader('[::1]')).toBe('[::1]');
  });

  it('is null without a usable header', () => {
    expect(hostFromHeader(undefined)).toBeNull();
    expect(hostFromHeader('')).toBeNull();
    expect(hostFromHeader(':4080')).toBeNull();
    expect(hostFromHeader('[::1')).toBeNull();
  });

  it('finds the label of exactly <label>.<baseDomain>', () => {
    expect(labelFromHost('shop.localhost', 'localhost')).toBe('shop');
    expect(labelFromHost(`${LABEL}.apps.example.com`, 'Apps.Example.com.')).toBe(LABEL);
  });

  it('finds no label in other hosts', () => {
    for (const host of [
      'localhost', // the bare base domain
      '.localhost',
      'a.shop.localhost', // deeper
      'shop.localhost.evil.com',
      'shoplocalhost',
      'shop.example.com',
      '127.0.0.1',
      '[::1]',
      '-shop.localhost',
      'my_shop.localhost',
    ]) {
      expect(labelFromHost(host, 'localhost'), host).toBeNull();
    }
    expect(labelFromHost('shop.', '')).toBeNull();
  });
});
