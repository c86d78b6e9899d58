import { describe, it, expect } from 'vitest';
import type { AGServerSocket } from 'socketcluster-server';
import { channelProblem, ipOf, originOf, tokenJsonOf, userIdOf } from '../../src/socketcluster/socket-identity.util.js';

describe('userIdOf', () => {
  it('takes a string user id as it is', () => {
    expect(userIdOf({ user_id: 'alice' }, 'user_id')).toEqual({ userId: 'alice' });
  });

  it('reads the configured field', () => {
    expect(userIdOf({ user_id: 'alice', uid: 'bob' }, 'uid')).toEqual({ userId: 'bob' });
  });

  it.each([
    [42, '42'],
    [0, '0'],
    [-7, '-7'],
    [1.5, '1.5'],
  ])('stores the number %d as its decimal text', (value, text) => {
    expect(userIdOf({ user_id: value }, 'user_id')).toEqual({ userId: text });
  });

  it.each([Number.NaN, Infinity, -Infinity])('treats the number %d as no user id, with a problem', (value) => {
    const { userId, problem } = userIdOf({ user_id: value }, 'user_id');
    expect(userId).toBeNull();
    expect(problem).toContain("'user_id'");
    expect(problem).toContain('number');
  });

  it.each([
    ['an object', { id: 1 }, 'object'],
    ['an array', [1, 2], 'an array'],
    ['a boolean', true, 'boolean'],
    ['an empty string', '', 'a string of 0 characters'],
    ['a 10 KB string', 'x'.repeat(10_240), 'a string of 10240 characters'],
    ['a 256-character string', 'u'.repeat(256), 'a string of 256 characters'],
  ])('treats %s as no user id, with a problem saying what it was', (_what, value, described) => {
    const { userId, problem } = userIdOf({ user_id: value }, 'user_id');
    expect(userId).toBeNull();
    expect(problem).toContain(described);
  });

  it('keeps the problem short for a huge string', () => {
    expect(userIdOf({ user_id: 'x'.repeat(10_240) }, 'user_id').problem!.length).toBeLessThan(300);
  });

  it('accepts a 255-character string', () => {
    const id = 'u'.repeat(255);
    expect(userIdOf({ user_id: id }, 'user_id')).toEqual({ userId: id });
  });

  it('accepts unicode and SQL metacharacters in a string id', () => {
    const id = "Zoë 🚀 '; DROP TABLE x; --";
    expect(userIdOf({ user_id: id }, 'user_id')).toEqual({ userId: id });
  });

  it.each([
    ['no token', undefined],
    ['a null token', null],
    ['a string token', 'alice'],
  ])('gives an anonymous socket without a problem for %s', (_what, token) => {
    expect(userIdOf(token, 'user_id')).toEqual({ userId: null });
  });

  it.each(['\ud800', 'x\udc00', '\udc00\ud800', 'a\ud83d'])('treats %j, which has a lone surrogate, as no user id, with a problem', (value) => {
    const { userId, problem } = userIdOf({ user_id: value }, 'user_id');
    expect(userId).toBeNull();
    expect(problem).toMatch(/lone UTF-16 surrogate/);
  });

  it('gives an anonymous socket without a problem when the field is missing or null', () => {
    expect(userIdOf({ name: 'alice' }, 'user_id')).toEqual({ userId: null });
    expect(userIdOf({ user_id: null }, 'user_id')).toEqual({ userId: null });
  });
});

describe('tokenJsonOf', () => {
  it('serialises a token payload', () => {
    const token = { user_id: 7, roles: ['admin'], exp: 1_700_000_000 };
    expect(JSON.parse(tokenJsonOf(token)!)).toEqual(token);
  });

  it('gives null for no token', () => {
    expect(tokenJsonOf(null)).toBeNull();
    expect(tokenJsonOf(undefined)).toBeNull();
  });

  it('gives null for a cyclic object', () => {
    const token: Record<string, unknown> = { user_id: 1 };
    token.self = token;
    expect(tokenJsonOf(token)).toBeNull();
  });

  it('gives null for a BigInt', () => {
    expect(tokenJsonOf({ user_id: 10n })).toBeNull();
  });

  it('gives null for something JSON cannot represent', () => {
    expect(tokenJsonOf(() => 1)).toBeNull();
  });

  it('keeps a token of exactly 16000 characters of JSON', () => {
    const token = { t: 'x'.repeat(16_000 - '{"t":""}'.length) };
    expect(tokenJsonOf(token)).toHaveLength(16_000);
  });

  it('gives null for a token longer than 16000 characters of JSON', () => {
    expect(tokenJsonOf({ t: 'x'.repeat(16_000) })).toBeNull();
  });
});

describe('channelProblem', () => {
  const PRESENCE = '_SCPRESENCE';

  it('accepts an ordinary channel', () => {
    expect(channelProblem('room-1', PRESENCE)).toBeNull();
  });

  it.each([undefined, null, 42, {}, ['room']])('refuses a non-string channel %j', (channel) => {
    expect(channelProblem(channel, PRESENCE)).toMatch(/non-empty string/);
  });

  it('refuses an empty channel', () => {
    expect(channelProblem('', PRESENCE)).toMatch(/non-empty string/);
  });

  it('accepts a channel of 255 characters', () => {
    expect(channelProblem('c'.repeat(255), PRESENCE)).toBeNull();
  });

  it('refuses a channel of 256 characters, saying its length', () => {
    const problem = channelProblem('c'.repeat(256), PRESENCE);
    expect(problem).toContain('255');
    expect(problem).toContain('256');
  });

  it('refuses the presence channel', () => {
    expect(channelProblem(PRESENCE, PRESENCE)).toContain('reserved');
  });

  it('refuses the configured presence channel, not the default one', () => {
    expect(channelProblem('_HERE', '_HERE')).toContain('reserved');
    expect(channelProblem('_SCPRESENCE', '_HERE')).toBeNull();
  });

  it('accepts unicode', () => {
    expect(channelProblem('salon-café-日本-🚀', PRESENCE)).toBeNull();
  });

  it.each(['room:\ud800', '\udc00', '\udc00\ud800', 'half\ud83d'])('refuses %j, which has a lone surrogate', (channel) => {
    expect(channelProblem(channel, PRESENCE)).toMatch(/well-formed Unicode/);
  });

  it('accepts surrogate pairs, NUL and direction marks', () => {
    for (const channel of ['😀', '\u0000', '\u202eevil', '\u200f']) expect(channelProblem(channel, PRESENCE)).toBeNull();
  });

  it('accepts SQL metacharacters', () => {
    expect(channelProblem("'; DROP TABLE x; --", PRESENCE)).toBeNull();
    expect(channelProblem('a`b"c\\d%_', PRESENCE)).toBeNull();
  });
});

/** The few AGServerSocket properties the functions read. */
const socketWith = (props: Record<string, unknown>) => props as unknown as AGServerSocket;

describe('ipOf', () => {
  it('prefers the forwarded-for address', () => {
    expect(ipOf(socketWith({ forwardedForAddress: '203.0.113.9', remoteAddress: '10.0.0.1' }))).toBe('203.0.113.9');
  });

  it('falls back to the remote address', () => {
    expect(ipOf(socketWith({ remoteAddress: '::ffff:127.0.0.1' }))).toBe('::ffff:127.0.0.1');
  });

  it('gives null without an address', () => {
    expect(ipOf(socketWith({}))).toBeNull();
  });

  it('cuts an address longer than 255 characters to 255', () => {
    expect(ipOf(socketWith({ remoteAddress: '1'.repeat(300) }))).toBe('1'.repeat(255));
  });
});

describe('originOf', () => {
  it('reads the Origin header', () => {
    expect(originOf(socketWith({ request: { headers: { origin: 'https://app.example' } } }))).toBe('https://app.example');
  });

  it('keeps an origin of 1024 characters', () => {
    const origin = `https://${'a'.repeat(1016)}`;
    expect(originOf(socketWith({ request: { headers: { origin } } }))).toBe(origin);
  });

  it('cuts an origin longer than 1024 characters to 1024', () => {
    const origin = `https://${'a'.repeat(2000)}`;
    expect(originOf(socketWith({ request: { headers: { origin } } }))).toBe(origin.slice(0, 1024));
  });

  it('does not split a surrogate pair at the cut, and replaces a lone surrogate', () => {
    const origin = `https://${'a'.repeat(1015)}😀tail`;
    expect(originOf(socketWith({ request: { headers: { origin } } }))).toBe(origin.slice(0, 1023));
    expect(originOf(socketWith({ request: { headers: { origin: 'https://x\udc00' } } }))).toBe('https://x\ufffd');
  });

  it('gives null without an Origin header', () => {
    expect(originOf(socketWith({ request: { headers: {} } }))).toBeNull();
  });

  it('gives null without headers or request', () => {
    expect(originOf(socketWith({ request: {} }))).toBeNull();
    expect(originOf(socketWith({}))).toBeNull();
  });
});
