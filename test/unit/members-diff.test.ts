import { describe, expect, it } from 'vitest';
import { diffMembers, type MemberRow } from '../../src/state/members.diff.js';

const m = (channel: string, userId: string, status: 'online' | 'idle' = 'online'): MemberRow => ({ channel, userId, status });

describe('diffMembers', () => {
  it('is empty when nothing changed', () => {
    expect(diffMembers([m('a', 'u1'), m('b', 'u2', 'idle')], [m('b', 'u2', 'idle'), m('a', 'u1')])).toEqual({
      diffs: [], upserts: [], deletes: [], holds: [],
    });
  });

  it('turns appearing users into joins, vanishing ones into leaves and a status change into an update', () => {
    const result = diffMembers(
      [m('room', 'gone'), m('room', 'stays'), m('room', 'dozes')],
      [m('room', 'stays'), m('room', 'dozes', 'idle'), m('room', 'new')],
    );
    expect(result.diffs).toEqual([
      {
        channel: 'room', seq: 0,
        joins: [{ userId: 'new', status: 'online' }],
        leaves: [{ userId: 'gone', status: 'online' }],
        updates: [{ userId: 'dozes', status: 'idle' }],
      },
    ]);
    expect(result.upserts).toEqual([m('room', 'dozes', 'idle'), m('room', 'new')]);
    expect(result.deletes).toEqual([{ channel: 'room', userId: 'gone' }]);
  });

  it('gives one diff per changed channel, in channel order', () => {
    const result = diffMembers([m('b', 'u1')], [m('c', 'u1'), m('a', 'u1')]);
    expect(result.diffs.map((d) => d.channel)).toEqual(['a', 'b', 'c']);
    expect(result.diffs.find((d) => d.channel === 'b')!.leaves).toEqual([{ userId: 'u1', status: 'online' }]);
  });

  it('keeps the same user in two channels apart', () => {
    const result = diffMembers([m('a', 'u1')], [m('a', 'u1'), m('b', 'u1')]);
    expect(result.diffs).toEqual([{ channel: 'b', seq: 0, joins: [{ userId: 'u1', status: 'online' }], leaves: [], updates: [] }]);
  });
});
