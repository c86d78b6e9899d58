import { describe, expect, it } from 'vitest';
import socketClusterClient from 'socketcluster-client';
import { createPresenceClient } from '../../src/client/index.js';

describe('client helper on a socket it cannot drive', () => {
  it('refuses a socketcluster-client 14 socket (protocol 1) with what to do', () => {
    // What socketcluster-client 14.3.2's create() returns, as far as the helper looks: an emitter, no listener().
    const v14 = { on() {}, off() {}, emit() {}, subscribe() {}, connect() {}, disconnect() {} };
    expect(() => createPresenceClient(v14 as never, { idleMonitor: false })).toThrow(
      /socketcluster-client 15 to 20 .*no listener\(\), invoke\(\), killListenerConsumer\(\)\. socketcluster-client 14 and older speak protocol 1/,
    );
    expect(() => createPresenceClient(undefined as never)).toThrow(TypeError);
  });

  it('takes a socketcluster-client 20 socket', () => {
    const socket = socketClusterClient.create({ hostname: '127.0.0.1', port: 1, autoConnect: false });
    const client = createPresenceClient(socket, { idleMonitor: false });
    client.destroy();
    socket.disconnect();
  });
});
