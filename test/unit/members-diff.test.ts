import { describe, expect, it } from 'vitest';
import { aggregateMembers, diffMembers, memberOf, type ChannelSessionRow, type MemberRow } from '../../src/state/members.diff.js';

const m = (channel: string, userId: string, status: 'online' | 'idle' = 'online', states = '[]'): MemberRow => ({ channel, userId, status, states });

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
        joins: [{ userId: 'new', status: 'online', states: [] }],
        leaves: [{ userId: 'gone', status: 'online', states: [] }],
        updates: [{ userId: 'dozes', status: 'idle', states: [] }],
      },
    ]);
    expect(result.upserts).toEqual([m('room', 'dozes', 'idle'), m('room', 'new')]);
    expect(result.deletes).toEqual([{ channel: 'room', userId: 'gone' }]);
  });

  it('gives one diff per changed channel, in channel order', () => {
    const result = diffMembers([m('b', 'u1')], [m('c', 'u1'), m('a', 'u1')]);
    expect(result.diffs.map((d) => d.channel)).toEqual(['a', 'b', 'c']);
    expect(result.diffs.find((d) => d.channel === 'b')!.leaves).toEqual([{ userId: 'u1', status: 'online', states: [] }]);
  });

  it('keeps the same user in two channels apart', () => {
    const result = diffMembers([m('a', 'u1')], [m('a', 'u1'), m('b', 'u1')]);
    expect(result.diffs).toEqual([{ channel: 'b', seq: 0, joins: [{ userId: 'u1', status: 'online', states: [] }], leaves: [], updates: [] }]);
  });

  it('turns a change of states alone into an update, with the states parsed', () => {
    const result = diffMembers([m('room', 'u1', 'online', '[{"a":1}]'), m('room', 'u2')], [m('room', 'u1', 'online', '[{"a":2}]'), m('room', 'u2')]);
    expect(result.diffs).toEqual([{ channel: 'room', seq: 0, joins: [], leaves: [], updates: [{ userId: 'u1', status: 'online', states: [{ a: 2 }] }] }]);
    expect(result.upserts).toEqual([m('room', 'u1', 'online', '[{"a":2}]')]);
  });

  it('is empty when the states are the same text', () => {
    expect(diffMembers([m('room', 'u1', 'idle', '[{"a":1},{"b":1}]')], [m('room', 'u1', 'idle', '[{"a":1},{"b":1}]')]).diffs).toEqual([]);
  });

  it('gives leaves the states last published', () => {
    expect(diffMembers([m('room', 'u1', 'online', '[{"t":true}]')], []).diffs[0].leaves).toEqual([{ userId: 'u1', status: 'online', states: [{ t: true }] }]);
  });
});

describe('aggregateMembers', () => {
  const s = (channel: string, userId: string, status: 'online' | 'idle', state: string | null): ChannelSessionRow => ({ channel, userId, status, state });

  it('gives one member per channel and user: online if any socket is, with the states of the sockets that have one', () => {
    const members = aggregateMembers([
      s('a', 'u1', 'idle', '{"tab":2}'), s('a', 'u1', 'online', null), s('a', 'u1', 'idle', '{"tab":1}'),
      s('b', 'u1', 'idle', '{"tab":2}'), s('a', 'u2', 'idle', null),
    ]);
    expect(members).toEqual([
      m('a', 'u1', 'online', '[{"tab":1},{"tab":2}]'),
      m('b', 'u1', 'idle', '[{"tab":2}]'),
      m('a', 'u2', 'idle', '[]'),
    ]);
  });

  it('orders states by their text, so the same states on other sockets compare equal', () => {
    const one = aggregateMembers([s('a', 'u', 'online', '{"x":"b"}'), s('a', 'u', 'online', '{"x":"a"}'), s('a', 'u', 'online', '{"x":"a"}')]);
    const other = aggregateMembers([s('a', 'u', 'online', '{"x":"a"}'), s('a', 'u', 'online', '{"x":"a"}'), s('a', 'u', 'online', '{"x":"b"}')]);
    expect(one).toEqual(other);
    expect(one[0].states).toBe('[{"x":"a"},{"x":"a"},{"x":"b"}]');
    expect(diffMembers(one, other).diffs).toEqual([]);
  });
});

describe('memberOf', () => {
  it('reads text that is not a JSON array of objects as no states', () => {
    expect(memberOf({ userId: 'u', status: 'online', states: 'not json' }).states).toEqual([]);
    expect(memberOf({ userId: 'u', status: 'online', states: '[1,{"a":1},[2]]' }).states).toEqual([{ a: 1 }]);
  });
});
