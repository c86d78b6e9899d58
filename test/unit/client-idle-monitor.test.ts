import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AGClientSocket } from 'socketcluster-client';
import {
  ACTIVITY_EVENTS, createPresenceClient, IdleMonitor, isPresenceError, type PresenceClient, type PresenceClientOptions,
} from '../../src/client/index.js';

type Handler = (event: unknown) => void;

/** addEventListener / removeEventListener, keyed like the DOM: by type, handler and capture flag. */
class FakeTarget {
  readonly listeners = new Map<string, Set<Handler>>();

  addEventListener(type: string, handler: Handler): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(handler);
  }

  removeEventListener(type: string, handler: Handler): void {
    this.listeners.get(type)?.delete(handler);
  }

  dispatch(type: string): void {
    for (const handler of [...(this.listeners.get(type) ?? [])]) handler({ type });
  }

  count(): number {
    return [...this.listeners.values()].reduce((n, set) => n + set.size, 0);
  }
}

class FakeDocument extends FakeTarget {
  visibilityState: 'visible' | 'hidden' = 'visible';

  show(state: 'visible' | 'hidden'): void {
    this.visibilityState = state;
    this.dispatch('visibilitychange');
  }
}

/** One consumable stream as socketcluster's: consumers with ids, each reading what is written after it began. */
class FakeStream<T = unknown> {
  private readonly consumers = new Map<number, { queue: IteratorResult<T>[]; wake?: () => void }>();

  constructor(private readonly ids: { next: number }) {}

  createConsumer() {
    const id = this.ids.next++;
    const state: { queue: IteratorResult<T>[]; wake?: () => void } = { queue: [] };
    this.consumers.set(id, state);
    return {
      id,
      next: async (): Promise<IteratorResult<T>> => {
        while (state.queue.length === 0) await new Promise<void>((resolve) => (state.wake = resolve));
        return state.queue.shift()!;
      },
    };
  }

  write(value: T): void {
    for (const state of this.consumers.values()) {
      state.queue.push({ done: false, value });
      state.wake?.();
    }
  }

  kill(id: number): boolean {
    const state = this.consumers.get(id);
    if (!state) return false;
    this.consumers.delete(id);
    state.queue.push({ done: true, value: undefined as never });
    state.wake?.();
    return true;
  }

  get size(): number {
    return this.consumers.size;
  }
}

/** The parts of a socketcluster-client socket the helper uses. */
function fakeSocket(init: { state?: string; authState?: string } = {}) {
  const ids = { next: 1 };
  const listeners = new Map<string, FakeStream>();
  const channels = new Map<string, FakeStream & { killOutputConsumer(id: number): void }>();
  const stream = (name: string) => {
    if (!listeners.has(name)) listeners.set(name, new FakeStream(ids));
    return listeners.get(name)!;
  };
  const socket = {
    id: 'socket-1' as string | null,
    state: init.state ?? 'open',
    authState: init.authState ?? 'authenticated',
    invoke: vi.fn(async (_procedure: string, _data: unknown): Promise<unknown> => undefined),
    listener: (name: string) => stream(name),
    killListenerConsumer: vi.fn((id: number) => {
      for (const s of listeners.values()) if (s.kill(id)) return;
    }),
    subscribe: vi.fn((name: string) => {
      if (!channels.has(name)) {
        const channel = Object.assign(new FakeStream(ids), {
          killOutputConsumer: (id: number) => void channel.kill(id),
        });
        channels.set(name, channel);
      }
      return channels.get(name)!;
    }),
    /** The server's view: a new connection (new id) or a login, as socketcluster-client emits them. */
    reconnect(id: string, authenticated = true) {
      socket.id = id;
      socket.state = 'open';
      socket.authState = authenticated ? 'authenticated' : 'unauthenticated';
      if (authenticated) stream('authenticate').write({});
      stream('connect').write({ id, isAuthenticated: authenticated });
    },
    authenticate() {
      socket.authState = 'authenticated';
      stream('authenticate').write({});
    },
    stream,
    channels,
  };
  return socket;
}

type FakeSocket = ReturnType<typeof fakeSocket>;

const sent = (socket: FakeSocket) => socket.invoke.mock.calls.map(([procedure, status]) => `${procedure}:${String(status)}`);
/** Lets the helper's listener loops and invoke promises run (they are not timers). */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('client idle monitor', () => {
  let clients: PresenceClient[] = [];
  let target: FakeTarget;
  let document: FakeDocument;

  beforeEach(() => {
    vi.useFakeTimers();
    target = new FakeTarget();
    document = new FakeDocument();
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.destroy();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  function start(socket: FakeSocket, options: PresenceClientOptions = {}): PresenceClient {
    const client = createPresenceClient(socket as unknown as AGClientSocket, {
      idleAfterMs: 1000,
      target: target as never,
      document: document as never,
      ...options,
    });
    clients.push(client);
    return client;
  }

  it('goes idle after idleAfterMs without input and sends it once', async () => {
    const socket = fakeSocket();
    const client = start(socket);
    expect(client.monitoring).toBe(true);
    expect(client.status).toBe('online');
    vi.advanceTimersByTime(999);
    expect(socket.invoke).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(client.status).toBe('idle');
    expect(sent(socket)).toEqual(['presence.setStatus:idle']);
    vi.advanceTimersByTime(10_000);
    await settle();
    expect(sent(socket)).toEqual(['presence.setStatus:idle']);
  });

  it('tells onStatusChange of each change, from the monitor and from setIdle / setOnline, once each', async () => {
    const socket = fakeSocket();
    const changes: string[] = [];
    const client = start(socket, { onStatusChange: (status) => changes.push(status) });
    vi.advanceTimersByTime(1000);
    target.dispatch('keydown');
    await client.setIdle();
    await client.setIdle();
    await client.setOnline();
    expect(changes).toEqual(['idle', 'online', 'idle', 'online']);
  });

  it('counts every kind of input as activity and postpones idle by each one', () => {
    const socket = fakeSocket();
    const client = start(socket);
    for (const type of ACTIVITY_EVENTS) {
      vi.advanceTimersByTime(900);
      target.dispatch(type);
    }
    expect(client.status).toBe('online');
    vi.advanceTimersByTime(999);
    expect(client.status).toBe('online');
    vi.advanceTimersByTime(1);
    expect(client.status).toBe('idle');
    expect(sent(socket)).toEqual(['presence.setStatus:idle']);
    expect([...target.listeners.keys()].sort()).toEqual([...ACTIVITY_EVENTS].sort());
  });

  it('comes back online on input with one send however many events follow', () => {
    const socket = fakeSocket();
    const client = start(socket);
    vi.advanceTimersByTime(1000);
    for (let i = 0; i < 500; i++) target.dispatch(i % 2 ? 'mousemove' : 'pointermove');
    expect(client.status).toBe('online');
    expect(sent(socket)).toEqual(['presence.setStatus:idle', 'presence.setStatus:online']);
    // Input keeps it online; the timer is not re-armed per event.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(sent(socket)).toEqual(['presence.setStatus:idle', 'presence.setStatus:online', 'presence.setStatus:idle']);
  });

  it('goes idle when the tab is hidden and online when it is visible again, without duplicates', () => {
    const socket = fakeSocket();
    const client = start(socket);
    vi.advanceTimersByTime(500);
    document.show('hidden');
    expect(client.status).toBe('idle');
    document.show('hidden');
    target.dispatch('mousemove'); // a hidden tab's stray event does not make the user present
    vi.advanceTimersByTime(5000);
    expect(sent(socket)).toEqual(['presence.setStatus:idle']);
    document.show('visible');
    document.show('visible');
    expect(client.status).toBe('online');
    expect(sent(socket)).toEqual(['presence.setStatus:idle', 'presence.setStatus:online']);
    // Becoming visible starts a whole idle period.
    vi.advanceTimersByTime(999);
    expect(client.status).toBe('online');
    vi.advanceTimersByTime(1);
    expect(sent(socket)).toEqual(['presence.setStatus:idle', 'presence.setStatus:online', 'presence.setStatus:idle']);
  });

  it('does not send again when a tab that is already idle gets hidden', () => {
    const socket = fakeSocket();
    const client = start(socket);
    vi.advanceTimersByTime(1000);
    document.show('hidden');
    expect(client.status).toBe('idle');
    expect(sent(socket)).toEqual(['presence.setStatus:idle']);
  });

  it('starts idle in a tab opened in the background', () => {
    document.visibilityState = 'hidden';
    const socket = fakeSocket();
    const client = start(socket);
    expect(client.status).toBe('idle');
    expect(sent(socket)).toEqual(['presence.setStatus:idle']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('destroy removes its listeners, stops its timer and ends its own loops only', async () => {
    const socket = fakeSocket();
    const appConsumer = socket.stream('connect').createConsumer(); // the app's own consumer of the same event
    const client = start(socket);
    expect(target.count()).toBe(ACTIVITY_EVENTS.length);
    expect(document.count()).toBe(1);
    expect(socket.stream('connect').size).toBe(2);
    client.destroy();
    client.destroy();
    expect(target.count()).toBe(0);
    expect(document.count()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(socket.stream('connect').size).toBe(1);
    expect(socket.stream('authenticate').size).toBe(0);
    expect(socket.stream('deauthenticate').size).toBe(0);
    expect(socket.killListenerConsumer).toHaveBeenCalledTimes(3); // connect, authenticate, deauthenticate
    expect(socket.killListenerConsumer).not.toHaveBeenCalledWith(appConsumer.id);
    socket.reconnect('socket-2');
    document.show('hidden');
    vi.advanceTimersByTime(5000);
    await settle();
    expect(socket.invoke).not.toHaveBeenCalled();
    await expect(client.setIdle()).rejects.toThrow(/destroyed/);
  });

  it('the monitor alone removes exactly the listeners it added', () => {
    const onChange = vi.fn();
    const monitor = new IdleMonitor(onChange, { idleAfterMs: 10, target: target as never, document: document as never });
    const added = new Map([...target.listeners].map(([type, set]) => [type, [...set]]));
    target.addEventListener('mousemove', () => undefined); // someone else's
    monitor.stop();
    expect(target.count()).toBe(1);
    expect(added.size).toBe(ACTIVITY_EVENTS.length);
    vi.advanceTimersByTime(100);
    expect(onChange).not.toHaveBeenCalled();
  });

  it('is off without a DOM (Node) and when idleMonitor is false', () => {
    const socket = fakeSocket();
    const withoutDom = start(socket, { target: undefined, document: undefined });
    expect(withoutDom.monitoring).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    const turnedOff = start(socket, { idleMonitor: false });
    expect(turnedOff.monitoring).toBe(false);
    expect(target.count()).toBe(0);
    expect(document.count()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(socket.invoke).not.toHaveBeenCalled();
  });

  it('uses the default of 60 s and an injected clock', () => {
    const socket = fakeSocket();
    const client = start(socket, { idleAfterMs: undefined });
    vi.advanceTimersByTime(59_999);
    expect(client.status).toBe('online');
    vi.advanceTimersByTime(1);
    expect(client.status).toBe('idle');

    let now = 0;
    const timers: Array<{ at: number; run: () => void }> = [];
    const clock = {
      now: () => now,
      setTimeout: (run: () => void, ms: number) => timers.push({ at: now + ms, run }),
      clearTimeout: vi.fn(),
    };
    const onChange = vi.fn();
    const other = new FakeTarget();
    const monitor = new IdleMonitor(onChange, { idleAfterMs: 100, target: other as never, document: null, clock });
    now = 60;
    other.dispatch('keydown');
    now = 100;
    timers.shift()!.run(); // fires early: 40 ms since the last key, so it waits the remaining 60 ms
    expect(onChange).not.toHaveBeenCalled();
    expect(timers[0].at).toBe(160);
    now = 160;
    timers.shift()!.run();
    expect(onChange).toHaveBeenCalledWith('idle');
    monitor.stop();
  });

  it('refuses a bad idleAfterMs', () => {
    for (const bad of [0, -1, Number.NaN, Infinity, '1000']) {
      expect(() => start(fakeSocket(), { idleAfterMs: bad as never })).toThrow(/idleAfterMs/);
    }
  });
});

describe('client status without the idle monitor', () => {
  const options: PresenceClientOptions = { idleMonitor: false };

  afterEach(() => vi.restoreAllMocks());

  it('setIdle and setOnline invoke presence.setStatus and resolve once the server answers', async () => {
    const socket = fakeSocket();
    let answer!: () => void;
    socket.invoke.mockImplementationOnce(() => new Promise<undefined>((resolve) => (answer = () => resolve(undefined))));
    const client = createPresenceClient(socket as unknown as AGClientSocket, options);
    let resolved = false;
    const pending = client.setIdle().then(() => (resolved = true));
    expect(client.status).toBe('idle');
    await settle();
    expect(resolved).toBe(false);
    answer();
    await pending;
    await client.setOnline();
    expect(client.status).toBe('online');
    expect(sent(socket)).toEqual(['presence.setStatus:idle', 'presence.setStatus:online']);
    client.destroy();
  });

  it('passes the server refusal through', async () => {
    const socket = fakeSocket({ authState: 'unauthenticated' });
    const refusal = Object.assign(new Error('an anonymous socket has no presence status: authenticate first'), {
      name: 'PresenceError',
    });
    socket.invoke.mockRejectedValueOnce(refusal);
    const client = createPresenceClient(socket as unknown as AGClientSocket, options);
    const error = await client.setIdle().catch((e: unknown) => e);
    expect(error).toBe(refusal);
    expect(isPresenceError(error)).toBe(true);
    expect(isPresenceError(new Error('x'))).toBe(false);
    // The wish stays: logging in sends it.
    socket.authenticate();
    await settle();
    expect(sent(socket)).toEqual(['presence.setStatus:idle', 'presence.setStatus:idle']);
    client.destroy();
  });

  it('re-sends idle on a new connection (once, though authenticate and connect both come) and not online', async () => {
    const socket = fakeSocket();
    const client = createPresenceClient(socket as unknown as AGClientSocket, options);
    await client.setIdle();
    socket.reconnect('socket-2');
    await settle();
    expect(sent(socket)).toEqual(['presence.setStatus:idle', 'presence.setStatus:idle']);
    // A token renewal on the same connection: the server kept the status.
    socket.authenticate();
    await settle();
    expect(sent(socket)).toHaveLength(2);
    await client.setOnline();
    socket.reconnect('socket-3');
    await settle();
    expect(sent(socket)).toEqual(['presence.setStatus:idle', 'presence.setStatus:idle', 'presence.setStatus:online']);
    client.destroy();
  });

  it('waits for a login on an anonymous connection and never invokes on a closed socket', async () => {
    const socket = fakeSocket();
    const client = createPresenceClient(socket as unknown as AGClientSocket, options);
    await client.setIdle();
    socket.state = 'closed';
    socket.id = null;
    await settle();
    socket.reconnect('socket-2', false);
    await settle();
    expect(sent(socket)).toEqual(['presence.setStatus:idle']);
    socket.authenticate();
    await settle();
    expect(sent(socket)).toEqual(['presence.setStatus:idle', 'presence.setStatus:idle']);
    client.destroy();
  });

  it('reports background failures to onError (console.warn by default), and retries on the next connect', async () => {
    const socket = fakeSocket();
    const onError = vi.fn();
    const client = createPresenceClient(socket as unknown as AGClientSocket, { ...options, onError });
    await client.setIdle();
    socket.invoke.mockRejectedValueOnce(Object.assign(new Error('slow'), { name: 'TimeoutError' }));
    socket.reconnect('socket-2');
    await settle();
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0][0]).toMatchObject({ name: 'TimeoutError' });
    // A send cut by a disconnect is not worth a report: the next connection re-sends anyway.
    socket.invoke.mockRejectedValueOnce(Object.assign(new Error('gone'), { name: 'BadConnectionError' }));
    socket.reconnect('socket-3');
    await settle();
    expect(onError).toHaveBeenCalledTimes(1);
    socket.reconnect('socket-4');
    await settle();
    expect(sent(socket)).toHaveLength(4);
    client.destroy();

    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const quiet = fakeSocket();
    const byDefault = createPresenceClient(quiet as unknown as AGClientSocket, options);
    await byDefault.setIdle();
    quiet.invoke.mockRejectedValueOnce(new Error('refused'));
    quiet.reconnect('socket-2');
    await settle();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('refused'));
    byDefault.destroy();

    const throwing = fakeSocket();
    const broken = createPresenceClient(throwing as unknown as AGClientSocket, {
      ...options,
      onError: () => {
        throw new Error('onError bug');
      },
    });
    await broken.setIdle();
    throwing.invoke.mockRejectedValueOnce(new Error('refused'));
    throwing.reconnect('socket-2');
    await settle(); // no unhandled rejection: vitest would fail the run
    broken.destroy();
  });

  it('usercount yields the published numbers only and ends with break or destroy', async () => {
    const socket = fakeSocket();
    const client = createPresenceClient(socket as unknown as AGClientSocket, options);
    const counts = client.usercount();
    expect(socket.subscribe).toHaveBeenCalledWith('USERCOUNT');
    const channel = socket.channels.get('USERCOUNT')!;
    const seen: number[] = [];
    const loop = (async () => {
      for await (const n of counts) {
        seen.push(n);
        if (seen.length === 3) break;
      }
    })();
    await settle();
    for (const data of [1, 'two', null, 2, { n: 3 }, Number.NaN, 0, 7]) channel.write(data);
    await loop;
    expect(seen).toEqual([1, 2, 0]);
    expect(channel.size).toBe(0);

    const other = client.usercount('ONLINE_USERS');
    const iterator = other[Symbol.asyncIterator]();
    const pending = iterator.next();
    client.destroy();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(socket.channels.get('ONLINE_USERS')!.size).toBe(0);
    expect(() => client.usercount()).toThrow(/destroyed/);
  });
});

describe('client entry dependencies', () => {
  const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
  const specifiers = (source: string) =>
    [...source.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)].map((m) => `${m[2] ? 'type ' : ''}${m[3]}`);

  it('imports no server code: only its own files, the constants file, the shared types and the socket type', () => {
    const dir = new URL('../../src/client/', import.meta.url);
    const imports = new Set(
      readdirSync(dir)
        .filter((file) => file.endsWith('.ts'))
        .flatMap((file) => specifiers(read(`../../src/client/${file}`))),
    );
    for (const specifier of imports) {
      expect(specifier).toMatch(/^(\.\/[\w.-]+\.js|\.\.\/presence\.constants\.js|type \.\.\/presence\.types\.js|type socketcluster-client)$/);
    }
    expect(imports).toContain('../presence.constants.js');
  });

  it('the constants file it shares with the server stays free of imports', () => {
    expect(specifiers(read('../../src/presence.constants.ts'))).toEqual([]);
    expect(read('../../src/presence.constants.ts')).not.toMatch(/\brequire\(|\bimport\(/);
  });

  it('the types file its type exports come from imports nothing either', () => {
    expect(specifiers(read('../../src/presence.types.ts'))).toEqual([]);
  });
});
