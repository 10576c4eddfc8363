import { type AuditResult, serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayHeaders } from './support/credentials';
import { startTestSupergraph, type TestSupergraph } from './support/supergraph';

/**
 * The GraphQL over HTTP spec's own conformance audits (graphql-http's `serverAudits`), run as
 * a plain client would, against the gateway and against a subgraph directly. Every MUST and
 * every SHOULD passes; the MAYs pass too, except where the gateway refuses on purpose.
 */

let sut: TestSupergraph;
beforeAll(async () => {
  sut = await startTestSupergraph();
});
afterAll(() => sut?.close());

/**
 * MAY audits that send a GET without any preflight header, which the gateway's CSRF prevention
 * refuses on purpose (a browser sends such a GET cross-site with the user's cookies).
 */
const REFUSED_BY_CSRF_PREVENTION = new Set(['5A70', 'D6D5', '6A70']);

function failure(result: AuditResult) {
  return result.status === 'ok' ? undefined : { status: result.status, reason: result.reason };
}

/** A fetch that adds headers to whatever the audit sends. */
const fetchWith =
  (headers: () => Promise<Record<string, string>>) =>
  async (input: RequestInfo, init: RequestInit = {}) =>
    fetch(input, { ...init, headers: { ...(init.headers as object), ...(await headers()) } });

const targets = [
  { name: 'the gateway', url: () => sut.url, csrfPrevention: true, fetchFn: fetch },
  {
    // A subgraph answers the gateway only: the audits speak to it as the gateway does.
    name: 'the accounts subgraph, directly, with a gateway credential',
    url: () => sut.subgraphs.accounts.url,
    csrfPrevention: false,
    fetchFn: fetchWith(() => gatewayHeaders('accounts')),
  },
];

for (const target of targets) {
  describe(`GraphQL over HTTP audits against ${target.name}`, () => {
    for (const audit of serverAudits({ url: target.url, fetchFn: target.fetchFn })) {
      if (target.csrfPrevention && REFUSED_BY_CSRF_PREVENTION.has(audit.id)) {
        it(`${audit.id} ${audit.name}: refused without a preflight header (CSRF), passes with one`, async () => {
          const plain = await audit.fn();
          expect(plain.status).not.toBe('ok');
          if (plain.status === 'ok') return;
          expect(plain.response.status).toBe(403);
          expect(await plain.response.text()).toMatch(/CSRF/);

          const withPreflight = serverAudits({
            url: target.url,
            fetchFn: fetchWith(async () => ({ 'apollo-require-preflight': '1' })),
          }).find((candidate) => candidate.id === audit.id)!;
          expect(failure(await withPreflight.fn())).toBeUndefined();
        });
      } else {
        it(`${audit.id} ${audit.name}`, async () => {
          expect(failure(await audit.fn())).toBeUndefined();
        });
      }
    }
  });
}
