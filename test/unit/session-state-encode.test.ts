import { describe, expect, it } from 'vitest';
import { decodeSessionState, encodeSessionState } from '../../src/state/session-state.encode.js';
import { MAX_STATE_DEPTH } from '../../src/presence.constants.js';

const problem = (value: unknown, maxBytes = 1024) => {
  const result = encodeSessionState(value, maxBytes);
  if (!('problem' in result)) throw new Error(`accepted: ${result.json}`);
  return result.problem;
};
const json = (value: unknown, maxBytes = 1024) => {
  const result = encodeSessionState(value, maxBytes);
  if ('problem' in result) throw new Error(result.problem);
  return result.json;
};

describe('encodeSessionState', () => {
  it('gives the JSON of a plain object with its keys sorted at every level, and null for null', () => {
    expect(json({ b: 1, a: { d: [1, 'x', null, true], c: false } })).toBe('{"a":{"c":false,"d":[1,"x",null,true]},"b":1}');
    expect(json({ a: 1, b: 2 })).toBe(json({ b: 2, a: 1 }));
    expect(json(Object.assign(Object.create(null), { k: 'v' }))).toBe('{"k":"v"}');
    expect(json({})).toBe('{}');
    expect(json(null)).toBeNull();
    expect(JSON.parse(json({ s: 'é"\n\u2028' })!)).toEqual({ s: 'é"\n\u2028' });
  });

  it('refuses what is not a plain object', () => {
    for (const value of [[], [{}], 'typing', 42, true, undefined, new Date(), new Map(), () => 1, Symbol('x'), 1n]) {
      expect(problem(value)).toMatch(/state must be a plain JSON object, or null/);
    }
  });

  it('refuses values JSON would drop or change, naming where they are', () => {
    expect(problem({ a: undefined })).toBe(
      'state.a is undefined, which JSON cannot carry: use null, booleans, finite numbers, well-formed strings, arrays and plain objects',
    );
    expect(problem({ a: { b: [1, NaN] } })).toMatch(/^state\.a\.b\[1\] is NaN/);
    expect(problem({ a: Infinity })).toMatch(/is Infinity/);
    expect(problem({ f() {} })).toMatch(/^state\.f is a function/);
    expect(problem({ d: new Date() })).toMatch(/an instance of Date/);
    expect(problem({ 'a b': 1n })).toMatch(/^state\["a b"\] is a bigint/);
    expect(problem({ s: Symbol('x') })).toMatch(/a symbol/);
    expect(problem({ s: 'bad \ud800' })).toMatch(/lone UTF-16 surrogate/);
    expect(problem({ ['\udc00']: 1 })).toMatch(/a key/);
    expect(problem({ a: [1, , 3] })).toMatch(/^state\.a\[1\] is undefined/); // eslint-disable-line no-sparse-arrays
  });

  it('refuses cycles, but not the same object twice side by side', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    expect(problem(cyclic)).toBe('state.self.back refers back to an object that contains it: a state must be a tree');
    const shared = { x: 1 };
    expect(json({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it(`refuses nesting deeper than ${MAX_STATE_DEPTH}`, () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_STATE_DEPTH; i++) deep = [deep];
    expect(json({ deep: (deep as unknown[])[0] }, 10_000)).toBeTruthy();
    expect(problem({ deep }, 10_000)).toMatch(/deeper than 32 levels/);
  });

  it('counts maxBytes in UTF-8 bytes of the JSON', () => {
    expect(json({ a: 'x'.repeat(10) }, 18)).toBe('{"a":"xxxxxxxxxx"}'); // 18 bytes
    expect(problem({ a: 'x'.repeat(11) }, 18)).toMatch(/larger than 18 bytes/);
    expect(json({ a: 'é'.repeat(4) }, 16)).toBe('{"a":"éééé"}'); // 12 characters, 16 bytes
    expect(problem({ a: 'é'.repeat(5) }, 16)).toMatch(/larger than 16 bytes/);
    expect(problem({ a: 'x'.repeat(10_000_000) })).toMatch(/larger than 1024 bytes/);
  });
});

describe('decodeSessionState', () => {
  it('reads stored JSON back, and anything but an object as none', () => {
    expect(decodeSessionState('{"a":1}')).toEqual({ a: 1 });
    for (const text of [null, undefined, '', '[1]', '"x"', 'not json']) expect(decodeSessionState(text)).toBeNull();
  });
});
