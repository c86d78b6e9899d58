import { describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import type { ChannelDiff } from '../../src/index.js';
import { BACKENDS, eventually, presenceTestBed, sleep, type PresenceApp } from '../support/presence-app.js';
import { connectClient, subscribe } from '../support/clients.js';

describe.each(BACKENDS)('server-side observers of channel presence (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  async function client(userId: string) {
    return bed.track(await connectClient(ctx!.port, ctx!.server, { token: { user_id: userId } }));
  }

  function observe(channel: string) {
    const diffs: ChannelDiff[] = [];
    const subscription: Subscription = ctx!.presence.channelDiffs$(channel).subscribe((diff) => diffs.push(diff));
    bed.onCleanup(() => subscription.unsubscribe());
    return { diffs, subscription, joins: () => diffs.flatMap((d) => d.joins.map((m) => m.userId)) };
  }

  it('delivers the diffs clients receive, to every observer, and ends the exchange subscription with the last one', async () => {
    ctx = await bed.start({ channelPresence: { channels: /^room:/ }, usercount: false, limits: { statusIntervalMs: 0 } });
    const exchange = ctx.server.exchange;
    const first = observe('room:1');
    const second = observe('room:1');
    const other = observe('room:2');
    expect(exchange.isSubscribed('presence:room:1', true)).toBe(true);

    const ann = await client('ann');
    await subscribe(ann, 'room:1');
    await eventually(() => expect(first.joins()).toEqual(['ann']));
    await ann.invoke('presence.setStatus', 'idle');
    await eventually(() => expect(first.diffs.flatMap((d) => d.updates)).toEqual([{ userId: 'ann', status: 'idle', states: [] }]));
    ann.unsubscribe('room:1');
    await eventually(() => expect(first.diffs.flatMap((d) => d.leaves.map((m) => m.userId))).toEqual(['ann']));

    expect(second.diffs).toEqual(first.diffs);
    expect(first.diffs.map((d) => d.seq)).toEqual([1, 2, 3]);
    expect(first.diffs.every((d) => d.channel === 'room:1')).toBe(true);
    expect(other.diffs).toEqual([]);

    first.subscription.unsubscribe();
    expect(exchange.isSubscribed('presence:room:1', true)).toBe(true);
    await subscribe(ann, 'room:1');
    await eventually(() => expect(second.joins()).toEqual(['ann', 'ann']));
    expect(first.diffs).toHaveLength(3);
    second.subscription.unsubscribe();
    expect(exchange.isSubscribed('presence:room:1', true)).toBe(false);
    expect(exchange.isSubscribed('presence:room:2', true)).toBe(true);
  });

  it('keeps a subscription the app made on the exchange itself', async () => {
    ctx = await bed.start({ channelPresence: { channels: ['room'] }, usercount: false });
    ctx.server.exchange.subscribe('presence:room');
    const observer = observe('room');
    observer.subscription.unsubscribe();
    await sleep(10);
    expect(ctx.server.exchange.isSubscribed('presence:room')).toBe(true);
  });

  it('refuses, at once, channels without presence and names that could not be a channel', async () => {
    ctx = await bed.start({ channelPresence: { channels: /^room:/ }, usercount: false });
    for (const [channel, message] of [
      ['lobby', /channel 'lobby' has no presence/],
      ['', /non-empty string/],
      ['room:' + 'x'.repeat(300), /limited to 255 characters/],
      [42, /non-empty string/],
      ['_SCPRESENCE', /reserved/],
    ] as const) {
      expect(() => ctx!.presence.channelDiffs$(channel as string)).toThrow(message);
      try {
        ctx.presence.channelDiffs$(channel as string);
      } catch (error) {
        expect((error as Error).name).toBe('PresenceError');
      }
    }
  });

  it('refuses when channel presence is off', async () => {
    ctx = await bed.start({ usercount: false });
    expect(() => ctx!.presence.channelDiffs$('room:1')).toThrow(/channel presence is not enabled/);
  });
});
