import { describe, expect, it } from 'vitest';
import { LatestStream } from '../../src/client/latest.stream.js';

describe('LatestStream', () => {
  it('gives a slow loop the newest value, not a backlog', async () => {
    const stream = new LatestStream<number>(() => undefined);
    const loop = stream[Symbol.asyncIterator]();
    stream.push(1);
    stream.push(2);
    stream.push(3);
    expect(await loop.next()).toEqual({ done: false, value: 3 });
    const pending = loop.next();
    stream.push(4);
    expect(await pending).toEqual({ done: false, value: 4 });
    expect(stream.latest).toBe(4);
  });

  it('starts a loop with the value there is, and each loop reads on its own', async () => {
    const stream = new LatestStream<string>(() => undefined);
    stream.push('a');
    const first = stream[Symbol.asyncIterator]();
    const second = stream[Symbol.asyncIterator]();
    expect((await first.next()).value).toBe('a');
    stream.push('b');
    expect((await second.next()).value).toBe('b');
    expect((await first.next()).value).toBe('b');
  });

  it('calls onIdle once, when the last loop ends, and return() settles a waiting next()', async () => {
    let idle = 0;
    const stream = new LatestStream<number>(() => idle++);
    const a = stream[Symbol.asyncIterator]();
    const b = stream[Symbol.asyncIterator]();
    const waiting = a.next();
    await a.return!();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(idle).toBe(0);
    stream.push(1);
    for await (const _ of { [Symbol.asyncIterator]: () => b }) break; // a break runs return()
    expect(idle).toBe(1);
    await a.return!();
    expect(idle).toBe(1);
  });

  it('ends every loop on end(), and ignores pushes after it', async () => {
    const stream = new LatestStream<number>(() => undefined);
    const loop = stream[Symbol.asyncIterator]();
    const waiting = loop.next();
    stream.end();
    expect(await waiting).toEqual({ done: true, value: undefined });
    stream.push(5);
    expect(stream.latest).toBeUndefined();
    expect(await stream[Symbol.asyncIterator]().next()).toEqual({ done: true, value: undefined });
  });
});
