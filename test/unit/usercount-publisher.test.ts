import { afterEach, beforeEach, describe, it, expect, vi } from 'vitest';
import { Logger } from '@nestjs/common';
import type { AGServer } from 'socketcluster-server';
import { UsercountPublisher } from '../../src/usercount/usercount.publisher.js';
import type { PresenceConfig } from '../../src/options/presence.config.js';
import type { ResolvedPresenceOptions } from '../../src/options/resolved-options.interface.js';
import type { PresenceStore } from '../../src/store/presence.store.js';

type Change = Parameters<UsercountPublisher['changed']>[0];
type UsercountOptions = Exclude<ResolvedPresenceOptions['usercount'], false>;

const NOTHING: Change = { joinedSockets: 0, leftSockets: 0, joinedChannels: 0, leftChannels: 0, rekeyedSockets: 0 };
/** A socket connected with one subscription. */
const JOIN: Change = { ...NOTHING, joinedSockets: 1, joinedChannels: 1 };
/** A socket with one subscription disconnected. */
const LEAVE: Change = { ...NOTHING, leftSockets: 1, leftChannels: 1 };
const SOCKET_JOIN: Change = { ...NOTHING, joinedSockets: 1 };
const SOCKET_LEAVE: Change = { ...NOTHING, leftSockets: 1 };
const CHANNEL_JOIN: Change = { ...NOTHING, joinedChannels: 1 };
const CHANNEL_LEAVE: Change = { ...NOTHING, leftChannels: 1 };
const REKEY: Change = { ...NOTHING, rekeyedSockets: 1 };

const DELAY = 3000;
const QUIET = 60_000;

function setup(usercount: Partial<UsercountOptions> | false = {}, count = 5) {
  const options = {
    usercount: usercount === false
      ? false
      : { channel: 'USERCOUNT', type: 'users', startupQuietMs: 0, connectDelayMs: DELAY, ...usercount },
  };
  const store = { count: vi.fn(async (_type: string) => count) };
  /** Fake-clock times of the publishes. */
  const publishedAt: number[] = [];
  const transmitPublish = vi.fn(async (_channel: string, _data: unknown) => {
    publishedAt.push(Date.now());
  });
  const server = { exchange: { transmitPublish } };
  const publisher = new UsercountPublisher({ options } as unknown as PresenceConfig, store as unknown as PresenceStore);
  const started = Date.now();
  publisher.start(server as unknown as AGServer);
  return {
    publisher,
    store,
    transmitPublish,
    /** Milliseconds after start() of each publish. */
    publishTimes: () => publishedAt.map((at) => at - started),
    setCount: (n: number) => store.count.mockImplementation(async () => n),
  };
}

const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2026-03-01T00:00:00Z'));
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('UsercountPublisher: what is published', () => {
  it('publishes the store\'s count of the configured type on the configured channel', async () => {
    const { publisher, store, transmitPublish } = setup({ channel: 'ONLINE', type: 'sockets' }, 17);
    publisher.changed(SOCKET_LEAVE);
    await advance(0);
    expect(store.count).toHaveBeenCalledWith('sockets');
    expect(transmitPublish).toHaveBeenCalledExactlyOnceWith('ONLINE', 17);
  });

  it('publishes a count of 0', async () => {
    const { publisher, transmitPublish } = setup({}, 0);
    publisher.changed(LEAVE);
    await advance(0);
    expect(transmitPublish).toHaveBeenCalledExactlyOnceWith('USERCOUNT', 0);
  });

  it('publishes the count read after the change', async () => {
    const { publisher, transmitPublish, setCount } = setup({}, 3);
    publisher.changed(LEAVE);
    setCount(2);
    await advance(0);
    expect(transmitPublish).toHaveBeenCalledExactlyOnceWith('USERCOUNT', 2);
  });

  it('publishes nothing without a change', async () => {
    const { transmitPublish } = setup();
    await advance(10 * QUIET);
    expect(transmitPublish).not.toHaveBeenCalled();
  });

  it('publishes nothing for a flush that changed nothing', async () => {
    const { publisher, transmitPublish } = setup();
    publisher.changed(NOTHING);
    await advance(10 * DELAY);
    expect(transmitPublish).not.toHaveBeenCalled();
  });
});

describe('UsercountPublisher: startup quiet period', () => {
  /** The catch-up goes through a 0 ms timer, which a timer callback may only run one tick later. */
  const TICK = 1;
  const expectAtEndOfQuiet = (times: number[]) => {
    expect(times).toHaveLength(1);
    expect(times[0]).toBeGreaterThanOrEqual(QUIET);
    expect(times[0]).toBeLessThanOrEqual(QUIET + TICK);
  };

  it('publishes nothing during the quiet period, whatever changes', async () => {
    const { publisher, transmitPublish } = setup({ startupQuietMs: QUIET });
    for (let i = 0; i < 10; i++) {
      publisher.changed(i % 2 === 0 ? JOIN : LEAVE);
      await advance(QUIET / 20);
    }
    await advance(QUIET / 2 - 1);
    expect(transmitPublish).not.toHaveBeenCalled();
  });

  it('publishes exactly once when the quiet period ends after changes', async () => {
    const { publisher, transmitPublish, publishTimes } = setup({ startupQuietMs: QUIET });
    publisher.changed(JOIN);
    await advance(QUIET / 2);
    publisher.changed(LEAVE);
    publisher.changed(JOIN);
    await advance(QUIET / 2 - 1);
    expect(transmitPublish).not.toHaveBeenCalled();
    await advance(1 + TICK);
    expectAtEndOfQuiet(publishTimes());
    await advance(10 * QUIET);
    expect(transmitPublish).toHaveBeenCalledTimes(1);
  });

  it('publishes exactly once when the quiet period ends without changes', async () => {
    const { transmitPublish, publishTimes } = setup({ startupQuietMs: QUIET });
    await advance(QUIET - 1);
    expect(transmitPublish).not.toHaveBeenCalled();
    await advance(1 + TICK);
    expectAtEndOfQuiet(publishTimes());
    await advance(10 * QUIET);
    expect(transmitPublish).toHaveBeenCalledTimes(1);
  });

  it('publishes changes after the quiet period as usual', async () => {
    const { publisher, publishTimes } = setup({ startupQuietMs: QUIET });
    await advance(QUIET + 1000);
    publisher.changed(LEAVE);
    await advance(0);
    expect(publishTimes()).toHaveLength(2);
    expect(publishTimes()[1]).toBe(QUIET + 1000);
  });

  it('has no catch-up publish without a quiet period', async () => {
    const { transmitPublish } = setup({ startupQuietMs: 0 });
    await advance(10 * QUIET);
    expect(transmitPublish).not.toHaveBeenCalled();
  });
});

describe('UsercountPublisher: joins and leaves', () => {
  it('waits connectDelayMs after a join', async () => {
    const { publisher, transmitPublish, publishTimes } = setup();
    publisher.changed(JOIN);
    await advance(DELAY - 1);
    expect(transmitPublish).not.toHaveBeenCalled();
    await advance(1);
    expect(publishTimes()).toEqual([DELAY]);
  });

  it('publishes a leave at the next timer tick', async () => {
    const { publisher, transmitPublish, publishTimes } = setup();
    publisher.changed(LEAVE);
    expect(transmitPublish).not.toHaveBeenCalled();
    await advance(0);
    expect(publishTimes()).toEqual([0]);
  });

  it('waits connectDelayMs for a socket whose user changed', async () => {
    const { publisher, publishTimes } = setup();
    publisher.changed(REKEY);
    await advance(10 * DELAY);
    expect(publishTimes()).toEqual([DELAY]);
  });

  it('publishes at once with connectDelayMs 0', async () => {
    const { publisher, publishTimes } = setup({ connectDelayMs: 0 });
    publisher.changed(JOIN);
    await advance(0);
    expect(publishTimes()).toEqual([0]);
  });

  it('does not bring a pending join publish forward for a leave', async () => {
    const { publisher, publishTimes } = setup();
    publisher.changed(JOIN);
    await advance(1000);
    publisher.changed(LEAVE);
    await advance(10 * DELAY);
    expect(publishTimes()).toEqual([DELAY]);
  });

  it('pushes the publish back for a later join', async () => {
    const { publisher, publishTimes } = setup();
    publisher.changed(JOIN);
    await advance(1000);
    publisher.changed(JOIN);
    await advance(10 * DELAY);
    expect(publishTimes()).toEqual([1000 + DELAY]);
  });

  it('publishes a burst of 100 joins and leaves within the delay once', async () => {
    const { publisher, transmitPublish } = setup();
    for (let i = 0; i < 100; i++) {
      publisher.changed(i % 2 === 0 ? JOIN : LEAVE);
      await advance(10);
    }
    await advance(10 * DELAY);
    expect(transmitPublish).toHaveBeenCalledTimes(1);
  });

  it('publishes 100 changes in one tick once', async () => {
    const { publisher, transmitPublish } = setup();
    for (let i = 0; i < 100; i++) publisher.changed(i % 3 === 0 ? LEAVE : JOIN);
    await advance(10 * DELAY);
    expect(transmitPublish).toHaveBeenCalledTimes(1);
  });

  it('publishes separate bursts separately', async () => {
    const { publisher, publishTimes } = setup();
    publisher.changed(JOIN);
    await advance(DELAY + 500);
    publisher.changed(LEAVE);
    await advance(10 * DELAY);
    expect(publishTimes()).toEqual([DELAY, DELAY + 500]);
  });

  it('ignores changes reported before start()', async () => {
    const options = { usercount: { channel: 'USERCOUNT', type: 'users', startupQuietMs: 0, connectDelayMs: DELAY } };
    const store = { count: vi.fn(async () => 1) };
    const publisher = new UsercountPublisher({ options } as unknown as PresenceConfig, store as unknown as PresenceStore);
    publisher.changed(LEAVE);
    await advance(10 * DELAY);
    expect(store.count).not.toHaveBeenCalled();
  });
});

describe('UsercountPublisher: what counts as a change', () => {
  it.each(['users', 'sockets'] as const)('ignores subscriptions alone for type %s', async (type) => {
    const { publisher, transmitPublish } = setup({ type });
    publisher.changed(CHANNEL_JOIN);
    publisher.changed(CHANNEL_LEAVE);
    await advance(10 * DELAY);
    expect(transmitPublish).not.toHaveBeenCalled();
  });

  it('counts only channel joins and leaves for type subscriptions', async () => {
    const { publisher, transmitPublish } = setup({ type: 'subscriptions' });
    publisher.changed(SOCKET_JOIN);
    publisher.changed(SOCKET_LEAVE);
    publisher.changed(REKEY);
    await advance(10 * DELAY);
    expect(transmitPublish).not.toHaveBeenCalled();
  });

  it('waits connectDelayMs after a subscription for type subscriptions', async () => {
    const { publisher, publishTimes } = setup({ type: 'subscriptions' });
    publisher.changed(CHANNEL_JOIN);
    await advance(10 * DELAY);
    expect(publishTimes()).toEqual([DELAY]);
  });

  it('publishes an unsubscription at once for type subscriptions', async () => {
    const { publisher, publishTimes } = setup({ type: 'subscriptions' });
    publisher.changed(CHANNEL_LEAVE);
    await advance(0);
    expect(publishTimes()).toEqual([0]);
  });
});

describe('UsercountPublisher: a steady stream of joins', () => {
  /** A join every connectDelayMs / 2, from now until `untilMs` (exclusive); returns the time of the last join. */
  async function joinEveryHalfDelay(publisher: UsercountPublisher, untilMs: number): Promise<number> {
    let t = 0;
    let last = 0;
    for (; t < untilMs; t += DELAY / 2) {
      publisher.changed(JOIN);
      last = t;
      await advance(DELAY / 2);
    }
    return last;
  }

  it('cannot postpone the publish beyond 5 × connectDelayMs', async () => {
    const { publisher, publishTimes } = setup();
    await joinEveryHalfDelay(publisher, 5 * DELAY);
    expect(publishTimes()).toHaveLength(1);
    expect(publishTimes()[0]).toBeLessThanOrEqual(5 * DELAY);
  });

  it('publishes once more, connectDelayMs after the late joins, when the stream ends', async () => {
    const { publisher, publishTimes } = setup();
    const lastJoin = await joinEveryHalfDelay(publisher, 5 * DELAY);
    await advance(20 * DELAY);
    const times = publishTimes();
    expect(times).toHaveLength(2);
    expect(times[1]).toBeGreaterThanOrEqual(lastJoin + DELAY);
  });

  it('keeps publishing at least every 5 × connectDelayMs while the stream lasts', async () => {
    const { publisher, publishTimes } = setup();
    const lastJoin = await joinEveryHalfDelay(publisher, 12 * DELAY);
    await advance(20 * DELAY);
    const times = publishTimes();
    expect(times[0]).toBeLessThanOrEqual(5 * DELAY);
    for (let i = 1; i < times.length; i++) {
      if (times[i - 1] < lastJoin) expect(times[i] - times[i - 1]).toBeLessThanOrEqual(5 * DELAY);
    }
    expect(times.at(-1)).toBeGreaterThanOrEqual(lastJoin + DELAY);
    expect(times.length).toBeLessThanOrEqual(4);
  });
});

describe('UsercountPublisher: publishing', () => {
  it('publishes again after a publish that was still running when a change came', async () => {
    const { publisher, store, transmitPublish } = setup();
    let release!: (n: number) => void;
    store.count.mockImplementationOnce(() => new Promise<number>((resolve) => (release = resolve)));
    publisher.changed(LEAVE);
    await advance(0);
    publisher.changed(LEAVE);
    await advance(0);
    expect(transmitPublish).not.toHaveBeenCalled();
    release(4);
    await advance(0);
    expect(transmitPublish.mock.calls).toEqual([['USERCOUNT', 4], ['USERCOUNT', 5]]);
  });

  it('logs a failed count and publishes the next change', async () => {
    const logged = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const { publisher, store, transmitPublish } = setup();
    store.count.mockRejectedValueOnce(new Error('database is down'));
    publisher.changed(LEAVE);
    await advance(0);
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('database is down'));
    expect(transmitPublish).not.toHaveBeenCalled();
    publisher.changed(LEAVE);
    await advance(0);
    expect(transmitPublish).toHaveBeenCalledOnce();
  });

  it('publishNow publishes during the quiet period', async () => {
    const { publisher, transmitPublish } = setup({ startupQuietMs: QUIET });
    await publisher.publishNow();
    expect(transmitPublish).toHaveBeenCalledExactlyOnceWith('USERCOUNT', 5);
  });
});

describe('UsercountPublisher: usercount false', () => {
  it('never publishes', async () => {
    const { publisher, store, transmitPublish } = setup(false);
    publisher.changed(JOIN);
    publisher.changed(LEAVE);
    await advance(10 * QUIET);
    await publisher.publishNow();
    expect(store.count).not.toHaveBeenCalled();
    expect(transmitPublish).not.toHaveBeenCalled();
  });
});

describe('UsercountPublisher: stop()', () => {
  it('cancels a pending join publish', async () => {
    const { publisher, transmitPublish } = setup();
    publisher.changed(JOIN);
    await advance(DELAY - 1);
    publisher.stop();
    await advance(10 * DELAY);
    expect(transmitPublish).not.toHaveBeenCalled();
  });

  it('cancels a pending leave publish', async () => {
    const { publisher, transmitPublish } = setup();
    publisher.changed(LEAVE);
    publisher.stop();
    await advance(10 * DELAY);
    expect(transmitPublish).not.toHaveBeenCalled();
  });

  it('cancels the catch-up publish of the quiet period', async () => {
    const { publisher, transmitPublish } = setup({ startupQuietMs: QUIET });
    await advance(QUIET - 1);
    publisher.stop();
    await advance(10 * QUIET);
    expect(transmitPublish).not.toHaveBeenCalled();
  });

  it('ignores changes after stop', async () => {
    const { publisher, transmitPublish } = setup();
    publisher.stop();
    publisher.changed(JOIN);
    publisher.changed(LEAVE);
    await advance(10 * DELAY);
    expect(transmitPublish).not.toHaveBeenCalled();
  });

  it('cancels the follow-up of a steady stream', async () => {
    const { publisher, transmitPublish } = setup();
    for (let t = 0; t < 5 * DELAY; t += DELAY / 2) {
      publisher.changed(JOIN);
      await advance(DELAY / 2);
    }
    expect(transmitPublish).toHaveBeenCalledTimes(1);
    publisher.stop();
    await advance(20 * DELAY);
    expect(transmitPublish).toHaveBeenCalledTimes(1);
  });
});
