import { describe, expect, it } from 'vitest';
import { diffMembers, NO_STATES, type MemberHold, type MemberRow } from '../../src/state/members.diff.js';

const m = (channel: string, userId: string, status: 'online' | 'idle' = 'online', heldSince?: Date): MemberRow => ({
  channel, userId, status, states: NO_STATES, ...(heldSince ? { heldSince } : {}),
});
const NOW = new Date('2026-01-05T10:00:00.000Z');
const before = (ms: number) => new Date(NOW.getTime() - ms);
const grace = (ended?: MemberHold['ended']): MemberHold => ({ now: NOW, graceMs: 1000, ended });
const leave = (channel: string, userId: string) => ({ channel, seq: 0, joins: [], leaves: [{ userId, status: 'online', states: [] }], updates: [] });

describe('diffMembers with the reconnect grace', () => {
  it('starts a hold for a member whose last socket in the channel closed: no leave, no delete', () => {
    const ended = (channel: string, userId: string) => channel === 'room' && userId === 'reloads';
    const result = diffMembers([m('room', 'reloads'), m('room', 'unsubscribed'), m('other', 'reloads')], [], grace(ended));
    expect(result.holds).toEqual([{ channel: 'room', userId: 'reloads' }]);
    // Not ended (an unsubscribe of a socket that stays): a leave at once, grace or not.
    expect(result.deletes).toEqual([{ channel: 'room', userId: 'unsubscribed' }, { channel: 'other', userId: 'reloads' }]);
    expect(result.diffs).toEqual([leave('other', 'reloads'), leave('room', 'unsubscribed')]);
  });

  it('keeps a held member through any change within the grace, and makes it one leave after it', () => {
    const held = [m('room', 'u1', 'online', before(400))];
    expect(diffMembers(held, [], grace())).toEqual({ diffs: [], upserts: [], deletes: [], holds: [] });
    const over = diffMembers([m('room', 'u1', 'online', before(1000))], [], grace());
    expect(over.diffs).toEqual([leave('room', 'u1')]);
    expect(over.deletes).toEqual([{ channel: 'room', userId: 'u1' }]);
    // Without a grace (offlineGraceMs 0) a held row is simply a leave.
    expect(diffMembers(held, []).diffs).toEqual([leave('room', 'u1')]);
  });

  it('a held member back with the same status is no diff; the hold ends (the row is written again, not held)', () => {
    const result = diffMembers([m('room', 'u1', 'online', before(400))], [m('room', 'u1')], grace(() => true));
    expect(result.diffs).toEqual([]);
    expect(result.upserts).toEqual([m('room', 'u1')]);
    expect(result.upserts[0].heldSince ?? null).toBeNull();
    expect(result.holds).toEqual([]);
  });

  it('a held member back with another status is an update; joins and updates of others go out as before', () => {
    const result = diffMembers([m('room', 'back', 'online', before(400)), m('room', 'dozes')], [m('room', 'back', 'idle'), m('room', 'dozes', 'idle'), m('room', 'new')], grace(() => true));
    expect(result.diffs).toEqual([
      {
        channel: 'room', seq: 0, joins: [{ userId: 'new', status: 'online', states: [] }], leaves: [],
        updates: [{ userId: 'back', status: 'idle', states: [] }, { userId: 'dozes', status: 'idle', states: [] }],
      },
    ]);
  });

  it('does not start a hold again for a member already held', () => {
    const result = diffMembers([m('room', 'u1', 'online', before(400))], [], grace(() => true));
    expect(result.holds).toEqual([]);
    expect(result.diffs).toEqual([]);
  });
});
