/**
 * A stand-in for a socketcluster-client socket, as far as the client helper uses one, driven by the test: it
 * decides when a subscription is accepted or refused, what is published and in which order, what each
 * procedure answers, and when the connection drops and comes back.
 */
let nextConsumerId = 1;

class FakeStream<T> {
  private readonly consumers = new Map<number, { queue: T[]; wake?: () => void; killed: boolean }>();

  write(value: T): void {
    for (const consumer of this.consumers.values()) {
      consumer.queue.push(value);
      consumer.wake?.();
    }
  }

  createConsumer() {
    const id = nextConsumerId++;
    const state: { queue: T[]; wake?: () => void; killed: boolean } = { queue: [], killed: false };
    this.consumers.set(id, state);
    return {
      id,
      next: async (): Promise<IteratorResult<T>> => {
        while (state.queue.length === 0 && !state.killed) await new Promise<void>((resolve) => (state.wake = resolve));
        if (state.killed) return { done: true, value: undefined };
        return { done: false, value: state.queue.shift()! };
      },
    };
  }

  kill(id: number): boolean {
    const state = this.consumers.get(id);
    if (!state) return false;
    state.killed = true;
    state.wake?.();
    this.consumers.delete(id);
    return true;
  }

  get size(): number {
    return this.consumers.size;
  }
}

type ChannelState = 'pending' | 'subscribed' | 'unsubscribed';

class FakeChannelRecord {
  state: ChannelState = 'pending';
  readonly data = new FakeStream<unknown>();
  readonly events = new Map<string, FakeStream<unknown>>();
  subscribeRequests = 0;

  event(name: string): FakeStream<unknown> {
    if (!this.events.has(name)) this.events.set(name, new FakeStream());
    return this.events.get(name)!;
  }

  consumers(): number {
    return this.data.size + [...this.events.values()].reduce((n, s) => n + s.size, 0);
  }
}

export type Procedure = (data: unknown) => unknown;

export class FakeSocket {
  state: 'open' | 'closed' | 'connecting' = 'open';
  authState: 'authenticated' | 'unauthenticated' = 'authenticated';
  id: string | null = 'socket-1';
  private connections = 1;
  readonly channels = new Map<string, FakeChannelRecord>();
  private readonly listeners = new Map<string, FakeStream<unknown>>();
  readonly procedures = new Map<string, Procedure>();
  readonly invocations: Array<{ procedure: string; data: unknown }> = [];
  unsubscribed: string[] = [];

  listener(event: string) {
    if (!this.listeners.has(event)) this.listeners.set(event, new FakeStream());
    return this.listeners.get(event)!;
  }

  killListenerConsumer(id: number): void {
    for (const stream of this.listeners.values()) stream.kill(id);
  }

  async invoke(procedure: string, data?: unknown): Promise<unknown> {
    this.invocations.push({ procedure, data });
    if (this.state !== 'open') throw Object.assign(new Error('not connected'), { name: 'BadConnectionError' });
    const handler = this.procedures.get(procedure);
    if (!handler) throw Object.assign(new Error(`no procedure ${procedure}`), { name: 'Error' });
    return handler(data);
  }

  record(name: string): FakeChannelRecord {
    if (!this.channels.has(name)) this.channels.set(name, new FakeChannelRecord());
    return this.channels.get(name)!;
  }

  subscribe(name: string, _options?: unknown) {
    const record = this.record(name);
    if (record.state === 'unsubscribed') record.state = 'pending';
    record.subscribeRequests += 1;
    return {
      name,
      get state() {
        return record.state;
      },
      createConsumer: () => record.data.createConsumer(),
      listener: (event: string) => record.event(event),
      killOutputConsumer: (id: number) => void record.data.kill(id),
      killListenerConsumer: (id: number) => {
        for (const stream of record.events.values()) stream.kill(id);
      },
    };
  }

  isSubscribed(name: string, includePending = false): boolean {
    const state = this.channels.get(name)?.state;
    return state === 'subscribed' || (includePending && state === 'pending');
  }

  unsubscribe(name: string): void {
    this.unsubscribed.push(name);
    const record = this.channels.get(name);
    if (record) record.state = 'unsubscribed';
  }

  // ---- what the server and the network do

  accept(name: string): void {
    const record = this.record(name);
    record.state = 'subscribed';
    record.event('subscribe').write({});
  }

  acceptAll(): void {
    for (const [name, record] of this.channels) if (record.state === 'pending') this.accept(name);
  }

  refuse(name: string, message = 'refused'): void {
    const record = this.record(name);
    record.state = 'unsubscribed';
    record.event('subscribeFail').write({ error: Object.assign(new Error(message), { name: 'PresenceError' }) });
  }

  publish(name: string, data: unknown): void {
    const record = this.channels.get(name);
    if (record?.state === 'subscribed') record.data.write(data);
  }

  drop(): void {
    this.state = 'closed';
    this.id = null;
    for (const record of this.channels.values()) if (record.state === 'subscribed') record.state = 'pending';
    this.listener('disconnect').write({});
  }

  reconnect(): void {
    this.state = 'open';
    this.connections += 1;
    this.id = `socket-${this.connections}`;
    this.listener('connect').write({});
  }
}
