import { describe, expect, it } from 'vitest';
import type { SocketState } from '../../src/presence.types.js';
import { diffSockets, type SocketDiffInput } from '../../src/state/socket.diff.js';

const token = { user_id: 'u1' };
const state = (socketId: string, over: Partial<SocketState> = {}): SocketState => ({
  socketId, userId: 'u1', token, authToken: '{"user_id":"u1"}', ip: '127.0.0.1', origin: null, status: 'online',
  connectedAt: new Date(0), channels: new Set(), state: null, ...over,
});

function diff(live: SocketState[], stored: SocketState[], over: Partial<SocketDiffInput> = {}) {
  const byId = new Map(live.map((s) => [s.socketId, s]));
  return diffSockets({
    ids: [...new Set([...live, ...stored].map((s) => s.socketId))],
    live: (id) => byId.get(id),
    stored: new Map(stored.map((s) => [s.socketId, s])),
    rewriteAll: false,
    ...over,
  });
}

describe('diffSockets', () => {
  it('writes a new socket in full and reports a connect', () => {
    const result = diff([state('s1', { channels: new Set(['room']) })], []);
    expect(result.batch.upserts).toEqual([{ socket: expect.objectContaining({ socketId: 's1', userId: 'u1' }), presence: true, channels: ['room'] }]);
    expect(result.counts).toMatchObject({ joinedSockets: 1, joinedChannels: 1, leftSockets: 0 });
    expect(result.connected).toEqual([{ socketId: 's1', userId: 'u1', ip: '127.0.0.1', origin: null }]);
    expect(result.causes.get('u1')).toEqual({ socketId: 's1', reason: 'connect' });
    expect(result.next.get('s1')).toMatchObject({ socketId: 's1' });
  });

  it('reports a login on a new socket as auth, and a token presented at the handshake as connect', () => {
    expect(diff([state('s1')], [], { handshakeToken: () => undefined }).causes.get('u1')?.reason).toBe('auth');
    expect(diff([state('s1')], [], { handshakeToken: () => token }).causes.get('u1')?.reason).toBe('connect');
  });

  it('leaves the token and the channel set out of the row it writes', () => {
    const [upsert] = diff([state('s1')], []).batch.upserts;
    expect(upsert.socket).not.toHaveProperty('token');
    expect(upsert.socket).not.toHaveProperty('channels');
  });

  it('deletes a socket that closed and reports a disconnect', () => {
    const result = diff([], [state('s1', { channels: new Set(['a', 'b']) })]);
    expect(result.batch.removedSockets).toEqual(['s1']);
    expect(result.counts).toMatchObject({ leftSockets: 1, leftChannels: 2 });
    expect(result.disconnected.map((s) => s.socketId)).toEqual(['s1']);
    expect(result.causes.get('u1')).toEqual({ socketId: 's1', reason: 'disconnect' });
    expect(result.next.get('s1')).toBeNull();
  });

  it('costs nothing for a socket that is neither live nor stored', () => {
    const result = diffSockets({ ids: ['s1'], live: () => undefined, stored: new Map(), rewriteAll: false });
    expect(result.batch).toEqual({ upserts: [], removedSockets: [], removedChannels: [], statusChanges: [] });
    expect(result.next.size).toBe(0);
  });

  it('writes only the new channels of an unchanged socket, and removes the channels it left', () => {
    const result = diff([state('s1', { channels: new Set(['a', 'c']) })], [state('s1', { channels: new Set(['a', 'b']) })]);
    expect(result.batch.upserts).toEqual([{ socket: expect.objectContaining({ socketId: 's1' }), presence: false, channels: ['c'] }]);
    expect(result.batch.removedChannels).toEqual([{ socketId: 's1', channel: 'b' }]);
    expect(result.counts).toMatchObject({ joinedChannels: 1, leftChannels: 1, joinedSockets: 0 });
    expect(result.causes.size).toBe(0);
  });

  it('sets the status of a socket whose status alone changed, without rewriting its rows, with the status as the cause', () => {
    const result = diff([state('s1', { status: 'idle' })], [state('s1')]);
    expect(result.batch.upserts).toEqual([]);
    expect(result.batch.statusChanges).toEqual([{ socketId: 's1', status: 'idle' }]);
    expect(result.causes.get('u1')).toEqual({ socketId: 's1', reason: 'status' });
    expect(result.counts.rekeyedSockets).toBe(0);
  });

  it('writes the new channels of a socket whose status changed with the new status, and sets it on the old rows', () => {
    const result = diff([state('s1', { status: 'idle', channels: new Set(['a', 'c']) })], [state('s1', { channels: new Set(['a']) })]);
    expect(result.batch.upserts).toEqual([{ socket: expect.objectContaining({ socketId: 's1', status: 'idle' }), presence: false, channels: ['c'] }]);
    expect(result.batch.statusChanges).toEqual([{ socketId: 's1', status: 'idle' }]);
  });

  it('rewrites a socket in full after an outage, whatever changed', () => {
    const result = diffSockets({ ids: ['s1'], live: () => state('s1', { status: 'idle' }), stored: new Map([['s1', state('s1')]]), rewriteAll: true });
    expect(result.batch.upserts[0]).toMatchObject({ presence: true, socket: expect.objectContaining({ status: 'idle' }) });
    expect(result.batch.statusChanges).toEqual([]);
    expect(result.causes.get('u1')).toEqual({ socketId: 's1', reason: 'status' });
  });

  it('re-keys a socket that changed user, counting it and naming both users', () => {
    const result = diff([state('s1', { userId: 'u2', token: { user_id: 'u2' } })], [state('s1')]);
    expect(result.counts.rekeyedSockets).toBe(1);
    expect(result.causes.get('u1')).toEqual({ socketId: 's1', reason: 'auth' });
    expect(result.causes.get('u2')).toEqual({ socketId: 's1', reason: 'auth' });
  });

  it('re-writes a socket with a new token object even for the same user, without a count or a cause', () => {
    const result = diff([state('s1', { token: { user_id: 'u1' } })], [state('s1')]);
    expect(result.batch.upserts[0]).toMatchObject({ presence: true });
    expect(result.counts.rekeyedSockets).toBe(0);
    expect(result.causes.size).toBe(0);
  });

  it('after an outage, rewrites every live socket in full and deletes nothing itself', () => {
    const result = diff([state('s1', { channels: new Set(['a']) })], [state('s1', { channels: new Set(['a', 'b']) }), state('s2')], {
      rewriteAll: true,
    });
    expect(result.batch.upserts).toEqual([{ socket: expect.objectContaining({ socketId: 's1' }), presence: true, channels: ['a'] }]);
    // The reconciling write removes every row it did not write: no explicit deletes.
    expect(result.batch.removedSockets).toEqual([]);
    expect(result.batch.removedChannels).toEqual([]);
    expect(result.causes.get('u1')).toEqual({ socketId: 's2', reason: 'disconnect' });
  });

  it('marks the users whose watched channels changed, only with channel presence on', () => {
    const live = [state('s1', { channels: new Set(['room:1', 'other']) })];
    expect(diff(live, []).channelUsers.size).toBe(0);
    const watched = diff(live, [], { watched: (channel) => channel.startsWith('room:') });
    expect([...watched.channelUsers]).toEqual(['u1']);
    const unwatched = diff([state('s1', { channels: new Set(['other']) })], [], { watched: (channel) => channel.startsWith('room:') });
    expect(unwatched.channelUsers.size).toBe(0);
  });

  it('gives an anonymous socket no cause', () => {
    const result = diff([state('s1', { userId: null, token: null, authToken: null })], []);
    expect(result.causes.size).toBe(0);
    expect(result.counts.joinedSockets).toBe(1);
  });

  it('rewrites only the presence row for a new state, and tells channel presence about the socket\'s channels', () => {
    const before = state('s1', { channels: new Set(['room', 'other']) });
    const result = diff([state('s1', { channels: new Set(['room', 'other']), state: '{"typing":true}' })], [before], { watched: (ch) => ch === 'room' });
    expect(result.batch.upserts).toEqual([{ socket: expect.objectContaining({ socketId: 's1', state: '{"typing":true}' }), presence: true, channels: [] }]);
    expect(result.causes.size).toBe(0); // a state is no status change
    expect([...result.channelUsers]).toEqual(['u1']);
    expect(result.counts).toMatchObject({ joinedChannels: 0, leftChannels: 0, joinedSockets: 0 });
    expect(result.next.get('s1')?.state).toBe('{"typing":true}');
  });

  it('writes nothing when the state is the same text', () => {
    const result = diff([state('s1', { channels: new Set(['room']), state: '{"a":1}' })], [state('s1', { channels: new Set(['room']), state: '{"a":1}' })], { watched: () => true });
    expect(result.batch.upserts).toEqual([]);
    expect(result.channelUsers.size).toBe(0);
  });

  it('writes a new channel and a new state in one upsert', () => {
    const result = diff([state('s1', { channels: new Set(['a', 'b']), state: null })], [state('s1', { channels: new Set(['a']), state: '{"a":1}' })]);
    expect(result.batch.upserts).toEqual([{ socket: expect.objectContaining({ state: null }), presence: true, channels: ['b'] }]);
  });
});
