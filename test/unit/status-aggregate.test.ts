import { describe, expect, it } from 'vitest';
import { aggregateStatus, decideTransitions, sessionsStatus } from '../../src/state/status.aggregate.js';
import type { UserStatus } from '../../src/presence.types.js';

describe('aggregateStatus', () => {
  it('is online if any session is online, idle if all are idle, offline if there are none', () => {
    expect(aggregateStatus(1, 3)).toBe('online');
    expect(aggregateStatus(3, 3)).toBe('online');
    expect(aggregateStatus(0, 2)).toBe('idle');
    expect(aggregateStatus(0, 0)).toBe('offline');
  });

  it('gives a member in a channel online or idle, never offline', () => {
    expect(sessionsStatus(2)).toBe('online');
    expect(sessionsStatus(0)).toBe('idle');
  });
});

describe('decideTransitions', () => {
  const stored = (entries: Record<string, UserStatus>) => Object.entries(entries).map(([userId, status]) => ({ userId, status }));

  it('reports only the users whose status really changes', () => {
    const decision = decideTransitions(
      stored({ a: 'offline', b: 'online', c: 'idle', d: 'online' }),
      new Map<string, UserStatus>([['a', 'online'], ['b', 'online'], ['c', 'online']]),
      false,
    );
    expect(decision.changes).toEqual([
      { userId: 'a', from: 'offline', to: 'online' },
      { userId: 'c', from: 'idle', to: 'online' },
      { userId: 'd', from: 'online', to: 'offline' },
    ]);
    expect(decision.deferred).toEqual([]);
  });

  it('with deferOffline, defers a user who would go offline instead of reporting it', () => {
    const decision = decideTransitions(stored({ a: 'online', b: 'idle', c: 'offline' }), new Map(), true);
    expect(decision.changes).toEqual([]);
    expect(decision.deferred).toEqual(['a', 'b']);
  });

  it('with deferOffline, still reports a change that is not a leave', () => {
    const decision = decideTransitions(stored({ a: 'idle', b: 'online' }), new Map<string, UserStatus>([['a', 'online']]), true);
    expect(decision.changes).toEqual([{ userId: 'a', from: 'idle', to: 'online' }]);
    expect(decision.deferred).toEqual(['b']);
  });
});
