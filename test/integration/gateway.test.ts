import 'reflect-metadata';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer,
} from '@nestjs/websockets';
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

  it('settles an invoke whose handler throws, and the socket keeps working', async () => {
    const { port, server } = await start();
    const socket = await connectClient(port, server);
    bed.track(socket);
    const serverSocket = server.clients[socket.id!];
    const exceptions: unknown[] = [];
    void (async () => {
      for await (const data of serverSocket.listener('exception' as never)) exceptions.push(data);
    })();

    // Nest's exception filter catches the handler's error, so the adapter sees no error: the invoke has been
    // seen to resolve (with undefined) rather than reject. Either way it must not be left waiting for ever.
    const result = await outcome(socket.invoke('boom', { x: 1 }), 4000);
    expect(result.kind).not.toBe('pending');
    // The filter emits 'exception' on the server-side socket object (a local event: it does not reach the client).
    await eventually(() => expect(exceptions).toHaveLength(1));
    expect(exceptions[0]).toMatchObject({ status: 'error', message: 'Internal server error' });

    expect(socket.state).toBe(socket.OPEN);
    expect(await socket.invoke('echo', 'still here')).toBe('still here');
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
