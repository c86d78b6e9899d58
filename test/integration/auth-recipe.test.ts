import 'reflect-metadata';
import { KeyObject } from 'node:crypto';
import { Body, Controller, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { AGServerSocket } from 'socketcluster-server';
import { describe, expect, it } from 'vitest';
import { PresenceError, PresenceModule, PresenceService, SocketClusterAdapter, type PresenceModuleOptions } from '../../src/index.js';
import { BACKENDS, eventually, fastOptions, presenceTestBed, wrap } from '../support/presence-app.js';
import { HookRecorder } from '../support/hook-recorder.js';
import { connectClient } from '../support/clients.js';

/*
 * The two ways of the README's "Authenticating sockets": a JWT from an HTTP login, signed with the server's
 * authKey and presented at the handshake; and a gateway handler on SocketClusterAdapter calling setAuthToken.
 */
const AUTH_KEY = 'a-key-shared-by-every-instance';

/** Stands in for the app's own password check. */
const checkPassword = (name: unknown, password: unknown): name is string => typeof name === 'string' && password === 'secret';

@Controller('auth')
class LoginController {
  constructor(private readonly presence: PresenceService) {}

  @Post('login')
  async login(@Body() body: { name?: unknown; password?: unknown }) {
    if (!checkPassword(body.name, body.password)) return { error: 'wrong name or password' };
    return { token: await this.presence.signToken({ user_id: body.name }) };
  }
}

@WebSocketGateway()
class LoginGateway {
  @SubscribeMessage('login')
  async login(@MessageBody() body: { name?: unknown; password?: unknown }, @ConnectedSocket() socket: AGServerSocket) {
    if (!checkPassword(body?.name, body?.password)) return { error: 'wrong name or password' };
    await socket.setAuthToken({ user_id: body.name });
    return { userId: body.name };
  }
}

@Module({ controllers: [LoginController], providers: [LoginGateway, HookRecorder] })
class AuthModule {}

describe.each(BACKENDS)('authenticating sockets in a Nest app (%s)', (backend) => {
  const bed = presenceTestBed(backend);

  async function start() {
    // A long flush window: the gateway login lands before the new socket's first write.
    const options: PresenceModuleOptions = fastOptions(backend, { socketcluster: { authKey: AUTH_KEY }, flushIntervalMs: 200 });
    const moduleRef = await Test.createTestingModule({ imports: [PresenceModule.forRoot(options), AuthModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new SocketClusterAdapter(app));
    await app.listen(0, '127.0.0.1');
    return { ...bed.adopt(wrap(app, options)), hooks: app.get(HookRecorder) };
  }

  it('a JWT from an HTTP login, presented at the handshake: online with reason connect', async () => {
    const { port, server, presence, hooks } = await start();
    const login = (password: string) =>
      fetch(`http://127.0.0.1:${port}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'ada', password }),
      }).then((r) => r.json() as Promise<{ token?: string; error?: string }>);
    expect(await login('wrong')).toEqual({ error: 'wrong name or password' });
    const { token } = await login('secret');
    const socket = bed.track(await connectClient(port, server, { signedToken: token }));
    expect(socket.authState).toBe('authenticated');
    await eventually(() => expect(hooks.userLines('ada')).toEqual(['user.online:ada:connect']));
    expect(await presence.getUserStatus('ada')).toBe('online');
  });

  it('a gateway handler calling socket.setAuthToken right after connect: online with reason auth', async () => {
    const { port, server, presence, hooks } = await start();
    const socket = bed.track(await connectClient(port, server));
    expect(await socket.invoke('login', { name: 'grace', password: 'wrong' })).toEqual({ error: 'wrong name or password' });
    expect(await socket.invoke('login', { name: 'grace', password: 'secret' })).toEqual({ userId: 'grace' });
    // The token reaches the client as #setAuthToken, which may come after the invoke's reply.
    await eventually(() => expect(socket.authState).toBe('authenticated'));
    await eventually(() => expect(hooks.userLines('grace')).toEqual(['user.online:grace:auth']));
    expect(await presence.getUserStatus('grace')).toBe('online');
  });

  it('signToken signs as setAuthToken does: the default expiry unless the payload has exp; a payload that is no object is refused', async () => {
    const { presence, server } = await start();
    const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, number>;
    const plain = claims(await presence.signToken({ user_id: 'ada' }));
    expect(plain.exp - plain.iat).toBe(server.defaultSignatureOptions.expiresIn);
    const exp = Math.floor(Date.now() / 1000) + 60;
    expect(claims(await presence.signToken({ user_id: 'ada', exp })).exp).toBe(exp);
    for (const bad of [null, 'ada', ['ada'], 42]) {
      await expect(presence.signToken(bad as never)).rejects.toThrow(PresenceError);
    }
    await expect(presence.signToken('ada' as never)).rejects.toThrow("a token's payload must be a plain object of claims, e.g. { user_id: '42' } (got 'ada')");
  });

  it('the shared authKey, held by the server as a secret KeyObject, verifies tokens signed with the string and refuses others', async () => {
    const { port, server } = await start();
    expect(server.verificationKey).toBeInstanceOf(KeyObject);
    expect(server.signatureKey).toBe(server.verificationKey);
    // Signed elsewhere with the key as the app configured it (a string), e.g. by another service.
    const good = await server.auth.signToken({ user_id: 'alan' }, AUTH_KEY, {});
    const forged = await server.auth.signToken({ user_id: 'mallory' }, 'some-other-key', {});
    expect(bed.track(await connectClient(port, server, { signedToken: good })).authState).toBe('authenticated');
    expect(bed.track(await connectClient(port, server, { signedToken: forged })).authState).toBe('unauthenticated');
  });
});
