import 'reflect-metadata';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, WsException,
} from '@nestjs/websockets';
import { throwError, type Observable } from 'rxjs';
import type { AddressInfo } from 'node:net';
import type { AGClientSocket } from 'socketcluster-client';
import type { AGServer, AGServerSocket } from 'socketcluster-server';
import { afterEach, describe, expect, it } from 'vitest';
import { PresenceModule, SocketClusterAdapter, type PresenceModuleOptions } from '../../src/index.js';
import { BACKENDS, eventually, fastOptions, presenceTestBed, wrap, type PresenceApp } from '../support/presence-app.js';
import { connectClient, disconnectAll, subscribe } from '../support/clients.js';

@Injectable()
class Received {
  readonly echoes: Array<{ socketId: string; data: unknown }> = [];
}

@WebSocketGateway()
class EchoGateway {
  @WebSocketServer()
  server!: AGServer;

  constructor(private readonly received: Received) {}

  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown, @ConnectedSocket() socket: AGServerSocket): unknown {
    this.received.echoes.push({ socketId: socket.id, data });
    return data;
  }

  @SubscribeMessage('boom')
  boom(): never {
    throw new Error('boom handler failed');
  }

  @SubscribeMessage('login')
  async login(@MessageBody() data: { password?: unknown }): Promise<{ ok: true }> {
    await Promise.resolve();
    if (data?.password !== 'secret') throw new WsException('wrong password');
    return { ok: true };
  }

  @SubscribeMessage('reject')
  reject(): Observable<never> {
    return throwError(() => new WsException({ code: 'E_RULE', message: 'refused by a rule' }));
  }
}

@Module({ providers: [Received, EchoGateway] })
class EchoModule {}

/** How an invoke ended, or 'pending' if it had not within `ms`. */
async function outcome(promise: Promise<unknown>, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ kind: 'pending' }>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'pending' }), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ kind: 'resolved' as const, value }),
        (error: Error) => ({ kind: 'rejected' as const, name: error?.name, message: error?.message }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function startGatewayApp(imports: unknown[]): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: imports as never }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.useWebSocketAdapter(new SocketClusterAdapter(app));
  await app.listen(0, '127.0.0.1');
  return app;
}

describe.each(BACKENDS)('SocketClusterAdapter with PresenceModule (%s)', (backend) => {
  const bed = presenceTestBed(backend);
  let ctx: PresenceApp | undefined;

  async function start(): Promise<PresenceApp> {
    const options: PresenceModuleOptions = fastOptions(backend);
    const app = await startGatewayApp([PresenceModule.forRoot(options), EchoModule]);
    ctx = bed.adopt(wrap(app, options));
    return ctx;
  }

  it('answers invokes and transmits on the endpoint presence tracks, with the same AGServer', async () => {
    const { app, port, server, table, sql } = await start();
    const socket = await connectClient(port, server, { token: { user_id: 'gw' } });
    bed.track(socket);

    expect(await socket.invoke('echo', { a: 1 })).toEqual({ a: 1 });
    expect(await socket.invoke('echo', 'text')).toBe('text');

    await socket.transmit('echo', { via: 'transmit' });
    const received = app.get(Received);
    await eventually(() => expect(received.echoes).toContainEqual({ socketId: socket.id, data: { via: 'transmit' } }));
    expect(received.echoes[0]).toEqual({ socketId: socket.id, data: { a: 1 } });

    // One endpoint: the gateway's socket is the one presence stores.
    await subscribe(socket, 'room');
    await eventually(async () => {
      const rows = await sql<{ SCP_channel: string; SCP_user_id: string }>(`SELECT * FROM ${table} WHERE SCP_socket_id = ?`, [socket.id]);
      expect(rows.map((r) => r.SCP_channel).sort()).toEqual(['_SCPRESENCE', 'room']);
      expect(rows.map((r) => r.SCP_user_id)).toEqual(['gw', 'gw']);
    });

    const gateway = app.get(EchoGateway);
    expect(gateway.server).toBe(server);
    expect(typeof gateway.server.exchange.transmitPublish).toBe('function');
    expect(Object.keys(gateway.server.clients)).toContain(socket.id);
  });

  it('rejects an invoke whose handler throws with what the exception filter tells the client, and the socket keeps working', async () => {
    const { port, server } = await start();
    const socket = await connectClient(port, server);
    bed.track(socket);
    const serverSocket = server.clients[socket.id!];
    const exceptions: unknown[] = [];
    void (async () => {
      for await (const data of serverSocket.listener('exception' as never)) exceptions.push(data);
    })();

    // Nest's default filter hides an unknown error's message; a WsException's reaches the client.
    expect(await outcome(socket.invoke('boom', { x: 1 }), 4000)).toEqual({ kind: 'rejected', name: 'WsException', message: 'Internal server error' });
    expect(await outcome(socket.invoke('login', { password: 'guess' }), 4000)).toEqual({ kind: 'rejected', name: 'WsException', message: 'wrong password' });
    const rejected = await socket.invoke('reject', {}).catch((error: Error & { code?: string }) => error);
    expect(rejected).toMatchObject({ name: 'WsException', message: 'refused by a rule', code: 'E_RULE' });
    expect(await socket.invoke('login', { password: 'secret' })).toEqual({ ok: true });
    // The server-side event is still emitted, for the app's own listeners.
    await eventually(() => expect(exceptions).toHaveLength(3));
    expect(exceptions[0]).toMatchObject({ status: 'error', message: 'Internal server error' });

    expect(socket.state).toBe(socket.OPEN);
    expect(await socket.invoke('echo', 'still here')).toBe('still here');
  });

  it("tells the client of a transmit whose handler throws with an 'exception' event", async () => {
    const { port, server } = await start();
    const socket = await connectClient(port, server);
    bed.track(socket);
    const received: unknown[] = [];
    void (async () => {
      for await (const data of socket.receiver('exception')) received.push(data);
    })();
    await socket.transmit('login', { password: 'guess' });
    await eventually(() => expect(received).toHaveLength(1));
    // Nest's default filter adds the call it failed for as `cause`.
    expect(received[0]).toEqual({ status: 'error', message: 'wrong password', cause: { pattern: 'login', data: { password: 'guess' } } });
    // Calls at once keep their own outcomes.
    const outcomes = await Promise.all(
      ['guess', 'secret', 'guess', 'secret'].map((password) => outcome(socket.invoke('login', { password }), 4000)),
    );
    expect(outcomes.map((o) => o.kind)).toEqual(['rejected', 'resolved', 'rejected', 'resolved']);
    expect(received).toHaveLength(1);
  });
});

describe('SocketClusterAdapter without PresenceModule', () => {
  let app: INestApplication | undefined;
  const sockets: AGClientSocket[] = [];

  afterEach(async () => {
    await disconnectAll(...sockets.splice(0));
    await app?.close();
    app = undefined;
  });

  it('attaches a SocketCluster server of its own at /socketcluster/', async () => {
    app = await startGatewayApp([EchoModule]);
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const gateway = app.get(EchoGateway);
    expect(gateway.server).toBeDefined();
    expect(typeof gateway.server.listener).toBe('function');

    const socket = await connectClient(port, gateway.server);
    sockets.push(socket);
    expect(await socket.invoke('echo', { a: 1 })).toEqual({ a: 1 });
    await socket.transmit('echo', 'by transmit');
    await eventually(() => expect(app!.get(Received).echoes.map((e) => e.data)).toContain('by transmit'));
    expect(Object.keys(gateway.server.clients)).toEqual([socket.id]);

    // app.close() closes the server the adapter created.
    await disconnectAll(...sockets.splice(0));
    await app.close();
    app = undefined;
    await expect(connectClient(port, gateway.server)).rejects.toBeDefined();
  });
});
