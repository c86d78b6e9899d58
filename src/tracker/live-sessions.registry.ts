import { Injectable } from '@nestjs/common';
import type { AGServerSocket } from 'socketcluster-server';
import type { SessionStatus } from '../presence.types.js';

export interface LiveSession {
  readonly socket: AGServerSocket;
  status: SessionStatus;
  /** Who set a status other than online: the socket is online again when it changes user (or logs out). */
  statusUserId?: string;
  /** Epoch ms: a number costs a socket less than a Date (made when a row is written). */
  readonly connectedAt: number;
  /** The token the socket had when it connected (presented at the handshake), to tell a login after it apart. */
  readonly handshakeToken: unknown;
  /** When a status change of this socket was last handed to the writer (see `limits.statusIntervalMs`). */
  statusWrittenAt?: number;
  /** A status change held until the interval since the last one has passed. */
  statusHeld?: Promise<void>;
  /** The session state's JSON, and the user it was set by: it is no one else's if the socket changes user. */
  state?: { json: string; userId: string };
  /** Like `statusWrittenAt` and `statusHeld`, for state changes. */
  stateWrittenAt?: number;
  stateHeld?: Promise<void>;
}

/** The sockets open on this instance: the in-memory truth that the table is made to match. */
@Injectable()
export class LiveSessions {
  private readonly sessions = new Map<string, LiveSession>();

  add(socket: AGServerSocket): LiveSession {
    let session = this.sessions.get(socket.id);
    if (!session) {
      session = { socket, status: 'online', connectedAt: Date.now(), handshakeToken: socket.authToken };
      this.sessions.set(socket.id, session);
    }
    return session;
  }

  has(socketId: string): boolean {
    return this.sessions.has(socketId);
  }

  remove(socketId: string): void {
    this.sessions.delete(socketId);
  }

  /** The session of an open socket; a socket that has begun closing has none. */
  get(socketId: string): LiveSession | undefined {
    const session = this.sessions.get(socketId);
    return session && session.socket.state === session.socket.OPEN ? session : undefined;
  }

  ids(): IterableIterator<string> {
    return this.sessions.keys();
  }
}
