import { describe, expect, it } from 'vitest';
import { ChannelSync, toChannelDiff, toChannelSnapshot } from '../../src/client/channel.sync.js';
import type { ChannelDiff, Member } from '../../src/presence.types.js';

// A member as a server without session state sends it (the helper passes `states` through when there are some).
const on = (userId: string) => ({ userId, status: 'online' }) as Member;
const idle = (userId: string) => ({ userId, status: 'idle' }) as Member;
const diff = (seq: number, d: Partial<Pick<ChannelDiff, 'joins' | 'leaves' | 'updates'>>): ChannelDiff => ({
  channel: 'room', seq, joins: d.joins ?? [], leaves: d.leaves ?? [], updates: d.updates ?? [],
});
const ids = (sync: ChannelSync) => sync.view().members.map((m) => `${m.userId}:${m.status}`);

function synced(seq = 10, members: Member[] = [on('ann')]): ChannelSync {
  const sync = new ChannelSync('room', 100);
  sync.fetching();
  sync.snapshot({ channel: 'room', seq, members });
  return sync;
}

describe('ChannelSync', () => {
  it('applies joins, leaves and updates in order, and hands out members sorted by user id', () => {
    const sync = synced();
    expect(sync.receive(diff(11, { joins: [on('cid'), on('bob')] }))).toBe('applied');
    expect(sync.receive(diff(12, { updates: [idle('ann')], leaves: [on('cid')] }))).toBe('applied');
    expect(sync.view()).toEqual({ channel: 'room', seq: 12, members: [idle('ann'), on('bob')] });
  });

  it('keeps what a member carries beyond user id and status (their session states)', () => {
    const sync = synced();
    const withState = { ...on('bob'), states: [{ typing: true }] } as Member;
    sync.receive(diff(11, { joins: [withState] }));
    expect(sync.view().members[1]).toEqual(withState);
  });

  it('ignores duplicates and diffs the snapshot already holds', () => {
    const sync = synced(10);
    expect(sync.receive(diff(9, { joins: [on('old')] }))).toBe('ignored');
    expect(sync.receive(diff(10, { joins: [on('old')] }))).toBe('ignored');
    expect(sync.receive(diff(11, { joins: [on('bob')] }))).toBe('applied');
    expect(sync.receive(diff(11, { joins: [on('bob')] }))).toBe('ignored');
    expect(ids(sync)).toEqual(['ann:online', 'bob:online']);
  });

  it('holds a diff that arrives before the one it follows, and applies both once the missing one comes', () => {
    const sync = synced(10);
    expect(sync.receive(diff(12, { leaves: [on('bob')] }))).toBe('gap');
    expect(sync.waiting).toBe(true);
    expect(sync.view().seq).toBe(10);
    expect(sync.receive(diff(12, { leaves: [on('bob')] }))).toBe('ignored'); // already held
    expect(sync.receive(diff(11, { joins: [on('bob')] }))).toBe('applied');
    expect(sync.waiting).toBe(false);
    expect(sync.view()).toEqual({ channel: 'room', seq: 12, members: [on('ann')] });
  });

  it('after a gap the caller takes a snapshot: it replaces the view and the held diffs it covers', () => {
    const sync = synced(10);
    sync.receive(diff(13, { joins: [on('dee')] }));
    sync.receive(diff(15, { joins: [on('eve')] }));
    expect(sync.waiting).toBe(true);
    sync.fetching();
    expect(sync.waiting).toBe(false); // no second snapshot while one is on its way
    expect(sync.receive(diff(16, { joins: [on('fay')] }))).toBe('buffered');
    const stillWaiting = sync.snapshot({ channel: 'room', seq: 14, members: [on('ann'), on('dee'), on('zed')] });
    expect(stillWaiting).toBe(false);
    expect(sync.view()).toEqual({ channel: 'room', seq: 16, members: [on('ann'), on('dee'), on('eve'), on('fay'), on('zed')] });
    expect(sync.buffered).toBe(0);
  });

  it('a snapshot that still leaves a hole before the held diffs says so', () => {
    const sync = synced(10);
    sync.receive(diff(14, { joins: [on('dee')] }));
    sync.fetching();
    expect(sync.snapshot({ channel: 'room', seq: 12, members: [] })).toBe(true);
    expect(sync.waiting).toBe(true);
    expect(sync.view().seq).toBe(12);
  });

  it('buffers what arrives before the first snapshot and applies what follows it', () => {
    const sync = new ChannelSync('room', 100);
    expect(sync.synced).toBe(false);
    sync.fetching();
    expect(sync.receive(diff(5, { joins: [on('bob')] }))).toBe('buffered');
    expect(sync.receive(diff(7, { updates: [idle('bob')] }))).toBe('buffered');
    expect(sync.receive(diff(6, { joins: [on('cid')] }))).toBe('buffered');
    // The snapshot is as of seq 5: bob's join is in it already.
    sync.snapshot({ channel: 'room', seq: 5, members: [on('ann'), on('bob')] });
    expect(sync.synced).toBe(true);
    expect(sync.view()).toEqual({ channel: 'room', seq: 7, members: [on('ann'), idle('bob'), on('cid')] });
  });

  it('drops the buffer and asks for a snapshot when more diffs are held than allowed', () => {
    const sync = new ChannelSync('room', 3);
    sync.fetching();
    sync.snapshot({ channel: 'room', seq: 1, members: [] });
    expect(sync.receive(diff(3, {}))).toBe('gap');
    expect(sync.receive(diff(4, {}))).toBe('gap');
    expect(sync.receive(diff(5, {}))).toBe('gap');
    expect(sync.receive(diff(6, {}))).toBe('resync');
    expect(sync.buffered).toBe(0);
  });

  it('takes a seq of 1 below its own as the channel numbered anew, and asks for a snapshot', () => {
    const sync = synced(40);
    expect(sync.receive(diff(1, { joins: [on('bob')] }))).toBe('resync');
    sync.fetching();
    sync.snapshot({ channel: 'room', seq: 1, members: [on('bob')] });
    expect(sync.receive(diff(2, { joins: [on('cid')] }))).toBe('applied');
    expect(ids(sync)).toEqual(['bob:online', 'cid:online']);
  });

  it('hands out a new object each time, so a view never changes under its reader', () => {
    const sync = synced();
    const before = sync.view();
    sync.receive(diff(11, { joins: [on('bob')] }));
    expect(before.members).toEqual([on('ann')]);
  });

  it('takes only well-formed diffs and snapshots of its own channel', () => {
    const good = diff(3, { joins: [on('a')] });
    expect(toChannelDiff(good, 'room')).toBe(good);
    for (const bad of [null, 7, 'x', { ...good, channel: 'other' }, { ...good, seq: 0 }, { ...good, seq: 1.5 }, { ...good, joins: [{ userId: 1 }] },
      { ...good, leaves: [{ userId: 'a', status: 'away' }] }, { ...good, updates: undefined }, { ...good, joins: [{ ...on('a'), states: [1] }] },
      { ...good, joins: [{ ...on('a'), states: {} }] }]) {
      expect(toChannelDiff(bad, 'room')).toBeNull();
    }
    expect(toChannelSnapshot({ channel: 'room', seq: 0, members: [] }, 'room')).not.toBeNull();
    expect(toChannelSnapshot({ channel: 'room', seq: -1, members: [] }, 'room')).toBeNull();
    expect(toChannelSnapshot({ channel: 'room', seq: 2 }, 'room')).toBeNull();
  });
});
