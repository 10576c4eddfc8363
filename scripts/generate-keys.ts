/**
 * Prints fresh production secrets as .env lines: `npm run -s keys:generate >> .env`.
 * docker-compose.yml reads them from there. Development needs none of this: every process
 * makes and keeps its keys under .data/keys/.
 */
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

async function ed25519() {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _private, ...publicJwk } = jwk;
  const kid = await calculateJwkThumbprint(publicJwk);
  return { privateJwk: JSON.stringify({ ...jwk, kid }), publicJwk: JSON.stringify({ ...publicJwk, kid }) };
}

const gateway = await ed25519();
const accessToken = await ed25519();
const lines = {
  GATEWAY_PRIVATE_KEY: gateway.privateJwk,
  GATEWAY_PUBLIC_KEY: gateway.publicJwk,
  ACCESS_TOKEN_PRIVATE_KEY: accessToken.privateJwk,
  ACCOUNTS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  DEPLOYMENTS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  EVENTS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  // Shared by every subgraph (they sign the events they relay) and the events subgraph.
  EVENTS_INGEST_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
};
for (const [name, value] of Object.entries(lines)) console.log(`${name}='${value}'`);
