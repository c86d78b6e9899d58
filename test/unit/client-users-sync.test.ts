import { describe, expect, it } from 'vitest';
import { toUserPresenceMessage, toWatchedUsers, UsersSync } from '../../src/client/users.sync.js';
import type { UserPresenceMessage, UserStatus } from '../../src/presence.types.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const time = (s: number) => new Date(T0 + s * 1000).toISOString();
const msg = (userId: string, previousStatus: UserStatus, status: UserStatus, s: number): UserPresenceMessage => ({
  userId, status, previousStatus, lastSeen: status === 'offline' ? time(s) : null, at: time(s),
});

function answered(): UsersSync {
  const sync = new UsersSync(['ann', 'bob'], 10);
  sync.fetching();
  sync.answer({ ann: { status: 'online', lastSeen: null }, bob: { status: 'offline', lastSeen: time(-60) } });
  return sync;
}

describe('UsersSync', () => {
  it('applies transitions to the answer', () => {
    const sync = answered();
    expect(sync.receive(msg('bob', 'offline', 'online', 1))).toBe('applied');
    expect(sync.receive(msg('ann', 'online', 'idle', 2))).toBe('applied');
    expect(sync.view()).toEqual({ ann: { status: 'idle', lastSeen: null }, bob: { status: 'online', lastSeen: null } });
  });

  it('ignores users it does not watch, and a transition older than one already seen', () => {
    const sync = answered();
    expect(sync.receive(msg('zed', 'offline', 'online', 1))).toBe('ignored');
    expect(sync.receive(msg('ann', 'idle', 'offline', 5))).toBe('mismatch'); // it never saw ann go idle
    expect(sync.receive(msg('ann', 'online', 'idle', 4))).toBe('ignored'); // that one came late
    expect(sync.view().ann).toEqual({ status: 'offline', lastSeen: time(5) });
  });

  it('replays what arrived during the request over the answer, whether the answer held it or not', () => {
    const sync = new UsersSync(['ann', 'bob'], 10);
    sync.fetching();
    expect(sync.receive(msg('ann', 'online', 'idle', 1))).toBe('buffered');
    expect(sync.receive(msg('bob', 'online', 'offline', 3))).toBe('buffered');
    expect(sync.receive(msg('bob', 'offline', 'online', 2))).toBe('buffered'); // crossed on the way
    // Read after ann's transition, before bob's two.
    sync.answer({ ann: { status: 'idle', lastSeen: null }, bob: { status: 'online', lastSeen: null } });
    expect(sync.view()).toEqual({ ann: { status: 'idle', lastSeen: null }, bob: { status: 'offline', lastSeen: time(3) } });
  });

  it('keeps the newest transition time across answers', () => {
    const sync = answered();
    sync.receive(msg('bob', 'offline', 'online', 10));
    sync.fetching();
    sync.answer({ ann: { status: 'online', lastSeen: null }, bob: { status: 'online', lastSeen: null } });
    expect(sync.receive(msg('bob', 'online', 'offline', 9))).toBe('ignored');
  });

  it('asks again when more messages are held than allowed', () => {
    const sync = new UsersSync(['ann'], 2);
    sync.fetching();
    sync.receive(msg('ann', 'online', 'idle', 1));
    sync.receive(msg('ann', 'idle', 'online', 2));
    expect(sync.receive(msg('ann', 'online', 'idle', 3))).toBe('resync');
  });

  it('takes only well-formed messages and answers', () => {
    const good = msg('ann', 'online', 'idle', 1);
    expect(toUserPresenceMessage(good)).toBe(good);
    for (const bad of [null, 'x', { ...good, status: 'away' }, { ...good, at: 'yesterday' }, { ...good, lastSeen: 5 }, { ...good, userId: 1 }]) {
      expect(toUserPresenceMessage(bad)).toBeNull();
    }
    expect(toWatchedUsers({ ann: { status: 'idle', lastSeen: null } }, ['ann'])).toEqual({ ann: { status: 'idle', lastSeen: null } });
    expect(toWatchedUsers({ ann: { status: 'idle', lastSeen: null } }, ['ann', 'bob'])).toBeNull();
    expect(toWatchedUsers([], ['ann'])).toBeNull();
  });
});
