import { describe, expect, it } from 'vitest';
import { PASSWORD, signUp, useAccounts } from '../../../test/support/accounts';
import { anonymousCaller, apiKeyCaller, userCaller } from '../../../test/support/services';
import { REFRESH_TOKEN_INVALID, REFRESH_TOKEN_REUSED } from './sessions';

const testbed = useAccounts();

const sessions = () => testbed.services.sessions;
const anonymous = () => testbed.scope(anonymousCaller);

/** Whether the gateway would still vouch for this session. */
async function active(userId: string, sessionId: string) {
  const caller = { ...userCaller({}, userId), sessionId };
  return (await testbed.services.access.callerAccess(testbed.scope(caller)))?.active;
}

describe('the sessions service', () => {
  it('rotates the refresh token: the new one works, and the session stays the same', async () => {
    const person = await signUp(testbed);
    const refreshed = await sessions().refresh(anonymous(), { refreshToken: person.refreshToken });
    expect(refreshed.userErrors).toEqual([]);
    expect(refreshed.user?.id).toBe(person.user.id);
    expect(refreshed.refreshToken).not.toBe(person.refreshToken);
    expect(refreshed.accessToken).toEqual(expect.any(String));
    const again = await sessions().refresh(anonymous(), { refreshToken: refreshed.refreshToken! });
    expect(again.userErrors).toEqual([]);
    expect(again.sessionExpiresAt).toEqual(refreshed.sessionExpiresAt);
    expect(await active(person.user.id, person.sessionId)).toBe(true);
  });

  it('ends the session when a spent refresh token comes back, whoever presents it', async () => {
    const person = await signUp(testbed);
    const refreshed = await sessions().refresh(anonymous(), { refreshToken: person.refreshToken });
    expect(refreshed.userErrors).toEqual([]);

    const reused = await sessions().refresh(anonymous(), { refreshToken: person.refreshToken });
    expect(reused.userErrors).toEqual([REFRESH_TOKEN_REUSED]);
    expect(reused.accessToken).toBeNull();
    // The thief's copy is dead, and so is the holder's newer token.
    const newer = await sessions().refresh(anonymous(), { refreshToken: refreshed.refreshToken! });
    expect(newer.userErrors).toEqual([REFRESH_TOKEN_INVALID]);
    expect(await active(person.user.id, person.sessionId)).toBe(false);
  });

  it('refuses what is not a refresh token it gave out', async () => {
    for (const refreshToken of ['', 'nonsense', 'A'.repeat(43)]) {
      expect((await sessions().refresh(anonymous(), { refreshToken })).userErrors).toEqual([
        REFRESH_TOKEN_INVALID,
      ]);
    }
  });

  it('logs out the current session only', async () => {
    const person = await signUp(testbed);
    const other = await testbed.services.signIn.logIn(anonymous(), {
      email: person.email,
      password: PASSWORD,
    });
    const out = await sessions().logOut(testbed.scope(person.caller()));
    expect(out).toEqual({ success: true, userErrors: [] });
    expect(await active(person.user.id, person.sessionId)).toBe(false);
    expect((await sessions().refresh(anonymous(), { refreshToken: person.refreshToken })).userErrors).toEqual(
      [REFRESH_TOKEN_INVALID],
    );
    expect((await sessions().refresh(anonymous(), { refreshToken: other.refreshToken! })).userErrors).toEqual(
      [],
    );
  });

  it('lists and revokes a user’s own sessions, and no one else’s', async () => {
    const person = await signUp(testbed);
    const laptop = await testbed.services.signIn.logIn(anonymous(), {
      email: person.email,
      password: PASSWORD,
    });
    const scope = testbed.scope(person.caller());
    const listed = await sessions().ofUser(scope, person.user.id, { first: 10 });
    expect(listed?.edges.map((edge) => sessions().isCurrent(scope, edge.node))).toEqual([true, false]);
    const laptopSessionId = listed!.edges[1]!.node.id;

    const stranger = await signUp(testbed);
    const strangerScope = testbed.scope(stranger.caller());
    expect(sessions().ofUser(strangerScope, person.user.id, { first: 10 })).toBeNull();
    const refused = await sessions().revoke(strangerScope, { sessionId: laptopSessionId });
    expect(refused.userErrors).toMatchObject([{ field: ['input', 'sessionId'], code: 'NOT_FOUND' }]);
    expect(await active(person.user.id, laptopSessionId)).toBe(true);

    const revoked = await sessions().revoke(scope, { sessionId: laptopSessionId });
    expect(revoked).toEqual({ revokedSessionId: laptopSessionId, userErrors: [] });
    expect(
      (await sessions().refresh(anonymous(), { refreshToken: laptop.refreshToken! })).userErrors,
    ).toEqual([REFRESH_TOKEN_INVALID]);
    expect((await sessions().revoke(scope, { sessionId: laptopSessionId })).userErrors).toMatchObject([
      { code: 'NOT_FOUND' },
    ]);
  });

  it('counts the session a request opened as its own', async () => {
    const person = await signUp(testbed);
    const scope = anonymous();
    expect(sessions().isSelf(scope, person.user.id)).toBe(false);
    await testbed.services.signIn.logIn(scope, { email: person.email, password: PASSWORD });
    expect(sessions().isSelf(scope, person.user.id)).toBe(true);
    expect((await sessions().ofUser(scope, person.user.id, { first: 10 }))?.edges).toHaveLength(2);
    expect(sessions().isSelf(anonymous(), person.user.id)).toBe(false);
  });

  it('refuses to log out or revoke for anyone but a signed-in person', async () => {
    await expect(sessions().logOut(anonymous())).rejects.toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const key = testbed.scope(apiKeyCaller((await signUp(testbed)).personalOrganizationId, 'ADMIN'));
    await expect(sessions().revoke(key, { sessionId: 'ses_x' })).rejects.toMatchObject({
      extensions: { code: 'FORBIDDEN' },
    });
  });

  it('tells the gateways at once when a session ends', async () => {
    const person = await signUp(testbed);
    const told: string[] = [];
    const subscription = testbed.events.pubsub.subscribe('caller-access-changed');
    const listening = (async () => {
      for await (const userId of subscription) {
        told.push(userId);
        break;
      }
    })();
    await sessions().logOut(testbed.scope(person.caller()));
    await listening;
    expect(told).toEqual([person.user.id]);
  });
});
