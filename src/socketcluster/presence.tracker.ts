import { Injectable, Logger } from '@nestjs/common';
import type { AGServer, AGServerSocket } from 'socketcluster-server';
import { PresenceWriter } from '../store/presence.writer.js';
import { consumeListener, type ListenerLoop } from './listener-loop.js';
import { LiveSessions } from './live-sessions.js';

type ServerEvent = 'connection' | 'subscription' | 'unsubscription' | 'authentication' | 'deauthentication' | 'closure';

/**
 * Follows the AGServer's lifecycle events: one consumer per listener. Events only say which socket changed;
 * the writer reads the socket's state when it flushes, so the order in which the listener loops run does not
 * matter.
 */
@Injectable()
export class PresenceTracker {
  private readonly logger = new Logger('PresenceTracker');
  private readonly loops: ListenerLoop[] = [];

  constructor(
    private readonly sessions: LiveSessions,
    private readonly writer: PresenceWriter,
  ) {}

  attach(server: AGServer): void {
    this.consume(server, 'connection', (socket) => this.connected(socket));
    const touch = (socket: AGServerSocket) => this.writer.touch(socket.id);
    this.consume(server, 'subscription', touch);
    this.consume(server, 'unsubscription', touch);
    this.consume(server, 'authentication', touch);
    this.consume(server, 'deauthentication', touch);
    // 'closure' follows both 'disconnection' and 'connectionAbort', so it covers every way a socket ends.
    this.consume(server, 'closure', (socket) => {
      this.sessions.remove(socket.id);
      this.writer.touch(socket.id);
    });
    // Sockets that were already open when presence started (a server passed in, already in use).
    for (const socket of Object.values(server.clients)) this.connected(socket);
  }

  /** Ends the listener loops (and only ours: the app's own consumers of the same events keep running). */
  async stop(): Promise<void> {
    await Promise.all(this.loops.splice(0).map((loop) => loop.stop()));
  }

  private connected(socket: AGServerSocket): void {
    this.sessions.add(socket);
    this.writer.touch(socket.id);
  }

  private consume(server: AGServer, event: ServerEvent, handle: (socket: AGServerSocket) => void): void {
    this.loops.push(
      consumeListener<{ socket: AGServerSocket }>(server, event, ({ socket }) => handle(socket), (error) =>
        this.logger.error(`handling '${event}' failed: ${error.message}`, error.stack),
      ),
    );
  }
}
