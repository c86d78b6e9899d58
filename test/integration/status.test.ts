import { Injectable, Module, Scope } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { OnUserOnline, type PresenceEvent, type UserStatusEvent } from '../../src/index.js';
import { BACKENDS, eventually, fastOptions, presenceTestBed, sleep, type PresenceApp } from '../support/presence-app.js';
import { connectClient, signToken, subscribe } from '../support/clients.js';
import { HookRecorder } from '../support/hook-recorder.js';

describe.each(BACKENDS)('user status and hooks (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  async function start(extra: Parameters<typeof fastOptions>[1] = {}, providers: unknown[] = []) {
    ctx = await bed.start(extra, { providers: [HookRecorder, ...(providers as never[])] });
    return ctx.app.get(HookRecorder);
  }

  async function client(token?: Record<string, unknown>) {
    const socket = await connectClient(ctx!.port, ctx!.server, { token });
    bed.track(socket);
    return socket;
  }

  it('fires online once for two tabs and offline once when the last one closes', async () => {
    const hooks = await start();
    const tab1 = await client({ user_id: 'alice' });
    await eventually(() => expect(hooks.userLines()).toEqual(['user.online:alice:connect']));
    const tab2 = await client({ user_id: 'alice' });
    const tab2Id = tab2.id;
    await eventually(async () => expect(await ctx!.presence.getUserSessions('alice')).toHaveLength(2));
    tab1.disconnect();
    await eventually(async () => expect(await ctx!.presence.getUserSessions('alice')).toHaveLength(1));
    expect(await ctx!.presence.getUserStatus('alice')).toBe('online');
    tab2.disconnect();
    await eventually(() => expect(hooks.userLines()).toEqual(['user.online:alice:connect', 'user.offline:alice:disconnect']));
    expect(await ctx!.presence.getUserStatus('alice')).toBe('offline');

    const offline = hooks.events.find((e) => e.type === 'user.offline') as UserStatusEvent;
    expect(offline).toMatchObject({ userId: 'alice', status: 'offline', previousStatus: 'online', socketId: tab2Id });
    expect(offline.at).toBeInstanceOf(Date);
    const sessions = hooks.events.filter((e) => e.type.startsWith('session.')).map((e) => e.type);
    expect(sessions).toEqual(['session.connected', 'session.connected', 'session.disconnected', 'session.disconnected']);
  });

  it('goes idle only when the last online session goes idle, and back online with any', async () => {
    const hooks = await start();
    const tab1 = await client({ user_id: 'bob' });
    const tab2 = await client({ user_id: 'bob' });
    await eventually(() => expect(hooks.userLines('bob')).toEqual(['user.online:bob:connect']));

    await tab1.invoke('presence.setStatus', 'idle');
    expect(await ctx!.presence.getUserStatus('bob')).toBe('online');
    await tab2.invoke('presence.setStatus', 'idle');
    expect(await ctx!.presence.getUserStatus('bob')).toBe('idle');
    await tab2.invoke('presence.setStatus', 'idle'); // no change, no hook
    await tab1.invoke('presence.setStatus', 'online');
    expect(await ctx!.presence.getUserStatus('bob')).toBe('online');
    await eventually(() =>
      expect(hooks.userLines('bob')).toEqual(['user.online:bob:connect', 'user.idle:bob:status', 'user.online:bob:status']),
    );
    const idle = hooks.events.find((e) => e.type === 'user.idle') as UserStatusEvent;
    expect(idle).toMatchObject({ previousStatus: 'online', socketId: tab2.id, instanceId: expect.any(String) });

    const sessions = await ctx!.presence.getUserSessions('bob');
    expect(Object.fromEntries(sessions.map((s) => [s.socketId, s.status]))).toEqual({ [tab1.id!]: 'online', [tab2.id!]: 'idle' });
  });

  it('sets a status change on every row of the socket, and leaves its other columns and other sockets as they were', async () => {
    await start();
    const tab1 = await client({ user_id: 'dora' });
    const tab2 = await client({ user_id: 'dora' });
    await subscribe(tab1, 'room-a');
    await subscribe(tab1, 'room-b');
    await subscribe(tab2, 'room-a');
    type Row = { SCP_socket_id: string; SCP_channel: string; SCP_status: string; SCP_authToken: string | null; SCP_connected: unknown; SCP_id: number };
    const rows = () => ctx!.sql<Row>(`SELECT SCP_id, SCP_socket_id, SCP_channel, SCP_status, SCP_authToken, SCP_connected FROM ${ctx!.table} ORDER BY SCP_id`);
    await eventually(async () => expect(await rows()).toHaveLength(5));
    const before = await rows();

    await tab1.invoke('presence.setStatus', 'idle');
    const after = await rows();
    expect(after.map((r) => [r.SCP_socket_id, r.SCP_channel, r.SCP_status])).toEqual(
      before.map((r) => [r.SCP_socket_id, r.SCP_channel, r.SCP_socket_id === tab1.id ? 'idle' : 'online']),
    );
    // The same rows (no delete and insert), with their token and connection time.
    expect(after.map(({ SCP_status: _, ...rest }) => rest)).toEqual(before.map(({ SCP_status: _, ...rest }) => rest));

    await tab1.invoke('presence.setStatus', 'online');
    expect((await rows()).every((r) => r.SCP_status === 'online')).toBe(true);
  });

  it('refuses bad statuses and anonymous sockets with a PresenceError and changes nothing', async () => {
    const hooks = await start();
    const socket = await client({ user_id: 'carol' });
    const anonymous = await client();
    await eventually(() => expect(hooks.userLines()).toEqual(['user.online:carol:connect']));
    for (const bad of ['away', 'IDLE', '', 42, null, { status: 'idle' }, ['idle'], 'x'.repeat(100_000)]) {
      const error = await socket.invoke('presence.setStatus', bad).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe('PresenceError');
    }
    const anon = await anonymous.invoke('presence.setStatus', 'idle').catch((e: Error) => e);
    expect((anon as Error).name).toBe('PresenceError');
    await expect(ctx!.presence.setSessionStatus(socket.id!, 'away' as never)).rejects.toThrow(/'online' or 'idle'/);
    await expect(ctx!.presence.setSessionStatus('no-such-socket', 'idle')).rejects.toThrow(/not connected/);
    expect(await ctx!.presence.getUserStatus('carol')).toBe('online');
    expect(hooks.userLines()).toEqual(['user.online:carol:connect']);

    await ctx!.presence.setSessionStatus(socket.id!, 'idle');
    expect(await ctx!.presence.getUserStatus('carol')).toBe('idle');
  });

  it('coalesces a login and logout within one flush into no change', async () => {
    const hooks = await start({ flushIntervalMs: 200 });
    const socket = await client();
    await socket.authenticate(await signToken(ctx!.server, { user_id: 'flash' }));
    await socket.deauthenticate();
    await sleep(400);
    expect(hooks.userLines()).toEqual([]);
    expect(await ctx!.presence.getUserStatus('flash')).toBe('offline');
  });

  it('follows login, user switch and logout on an open socket', async () => {
    const hooks = await start();
    const other = await client({ user_id: 'dan' }); // dan has another session: switching away must not take him offline
    const socket = await client();
    await eventually(() => expect(hooks.userLines()).toEqual(['user.online:dan:connect']));
    await eventually(async () => expect(await ctx!.presence.count('sockets')).toBe(2));

    await socket.authenticate(await signToken(ctx!.server, { user_id: 'erin' }));
    await eventually(() => expect(hooks.userLines()).toEqual(['user.online:dan:connect', 'user.online:erin:auth']));

    await socket.authenticate(await signToken(ctx!.server, { user_id: 'dan' }));
    await eventually(() =>
      expect(hooks.userLines()).toEqual(['user.online:dan:connect', 'user.online:erin:auth', 'user.offline:erin:auth']),
    );
    await socket.authenticate(await signToken(ctx!.server, { user_id: 'fay' }));
    await eventually(async () => expect(await ctx!.presence.getUserStatus('fay')).toBe('online'));
    await socket.deauthenticate();
    await eventually(() =>
      expect(hooks.userLines()).toEqual([
        'user.online:dan:connect', 'user.online:erin:auth', 'user.offline:erin:auth', 'user.online:fay:auth', 'user.offline:fay:auth',
      ]),
    );
    expect(await ctx!.presence.getUserStatuses(['dan', 'erin', 'fay'])).toEqual({ dan: 'online', erin: 'offline', fay: 'offline' });
    other.disconnect();
    await eventually(() => expect(hooks.userLines('dan')).toEqual(['user.online:dan:connect', 'user.offline:dan:disconnect']));
  });

  it('starts a socket over online when it logs in as someone else or logs out; a renewed token keeps the status', async () => {
    const hooks = await start();
    const socket = await client({ user_id: 'ann' });
    await socket.invoke('presence.setStatus', 'idle');
    expect(await ctx!.presence.getUserStatus('ann')).toBe('idle');

    await socket.authenticate(await signToken(ctx!.server, { user_id: 'ann', renewed: 1 }));
    await sleep(100);
    expect(await ctx!.presence.getUserStatus('ann')).toBe('idle');

    await socket.authenticate(await signToken(ctx!.server, { user_id: 'bob' }));
    await eventually(async () => expect(await ctx!.presence.getUserSessions('bob')).toMatchObject([{ status: 'online' }]));
    expect(hooks.userLines('bob')).toEqual(['user.online:bob:auth']);

    await socket.invoke('presence.setStatus', 'idle');
    await socket.deauthenticate();
    await eventually(async () => expect(await ctx!.presence.getUserStatus('bob')).toBe('offline'));
    await socket.authenticate(await signToken(ctx!.server, { user_id: 'bob' }));
    await eventually(async () => expect(await ctx!.presence.getUserSessions('bob')).toMatchObject([{ status: 'online' }]));
    await eventually(() => expect(hooks.userLines('bob').at(-1)).toBe('user.online:bob:auth'));
  });

  it('with an offline grace, a reload fires nothing and a real leave fires offline after the grace', async () => {
    const hooks = await start({ offlineGraceMs: 400 });
    const first = await client({ user_id: 'gus' });
    await eventually(() => expect(hooks.userLines()).toEqual(['user.online:gus:connect']));
    first.disconnect();
    await sleep(100);
    const reloaded = await client({ user_id: 'gus' });
    await sleep(600);
    expect(hooks.userLines()).toEqual(['user.online:gus:connect']);
    expect(await ctx!.presence.getUserStatus('gus')).toBe('online');

    const leftAt = Date.now();
    reloaded.disconnect();
    await sleep(200);
    expect(await ctx!.presence.getUserStatus('gus')).toBe('online'); // still within the grace
    await eventually(() => expect(hooks.userLines()).toEqual(['user.online:gus:connect', 'user.offline:gus:disconnect']));
    expect(Date.now() - leftAt).toBeGreaterThanOrEqual(400);
    expect(await ctx!.presence.getUserStatus('gus')).toBe('offline');
  });

  it('logs a throwing or rejecting handler and keeps tracking and the other handlers going', async () => {
    @Injectable()
    class Throwing {
      calls = 0;
      @OnUserOnline()
      boom(): void {
        this.calls++;
        throw new Error('handler bug');
      }
      @OnUserOnline()
      async reject(): Promise<void> {
        throw new Error('async handler bug');
      }
    }
    const hooks = await start({}, [Throwing]);
    await client({ user_id: 'hal' });
    await client({ user_id: 'ida' });
    await eventually(() => expect(hooks.userLines().sort()).toEqual(['user.online:hal:connect', 'user.online:ida:connect']));
    expect(ctx!.app.get(Throwing).calls).toBe(2);
    expect(await ctx!.presence.count('users')).toBe(2);
  });

  it('binds stacked decorators once each, skips aliases and warns about request-scoped providers', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @OnUserOnline()
      online(): void {
        throw new Error('must never be called');
      }
    }
    @Module({ providers: [PerRequest] })
    class RequestScopedModule {}
    ctx = await bed.start({}, {
      imports: [RequestScopedModule],
      providers: [HookRecorder, { provide: 'RECORDER_ALIAS', useExisting: HookRecorder }],
    });
    const hooks = ctx.app.get(HookRecorder);
    const seen: PresenceEvent[] = [];
    const subscription = ctx.presence.events$.subscribe((event) => seen.push(event));
    const socket = await client({ user_id: 'jo' });
    await eventually(() => expect(hooks.userLines()).toEqual(['user.online:jo:connect']));
    socket.disconnect();
    await eventually(() => expect(hooks.userLines()).toEqual(['user.online:jo:connect', 'user.offline:jo:disconnect']));
    // One call per event although the recorder is reachable under two tokens.
    // The app started alone on its table: a cold start, announced before any socket.
    expect(hooks.events.map((e) => e.type)).toEqual(['cleanup', 'session.connected', 'user.online', 'session.disconnected', 'user.offline']);
    expect(hooks.events[0]).toEqual({ type: 'cleanup', at: expect.any(Date) });
    expect(seen).toEqual(hooks.events.slice(1));
    subscription.unsubscribe();
  });
});
