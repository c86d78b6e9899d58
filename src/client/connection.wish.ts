/**
 * One thing the client wants the server to hold for its socket (the status, the session state), which every
 * new connection loses: the server starts each socket with `initial`. It remembers what was sent on which
 * connection, so that after a reconnect it knows to send again, and only then.
 */
export class ConnectionWish<T> {
  private wanted: T;
  /** The last value sent (or being sent) and on which connection. */
  private sent?: { socketId: string | null; value: T };

  constructor(
    private readonly initial: T,
    private readonly transmit: (value: T) => Promise<unknown>,
  ) {
    this.wanted = initial;
  }

  get value(): T {
    return this.wanted;
  }

  /** Records what is wanted; returns whether it changed. */
  want(value: T): boolean {
    if (value === this.wanted) return false;
    this.wanted = value;
    return true;
  }

  /** Whether the connection `socketId` lacks the wanted value (nothing sent on it yet counts as `initial`). */
  missing(socketId: string | null): boolean {
    const held = this.sent && this.sent.socketId === socketId ? this.sent.value : this.initial;
    return held !== this.wanted;
  }

  /** Sends the wanted value on the connection `socketId`; resolves once the server stored it. */
  async send(socketId: string | null): Promise<void> {
    const record = { socketId, value: this.wanted };
    this.sent = record;
    try {
      await this.transmit(record.value);
    } catch (error) {
      // Not stored: let the next connect, authenticate or change try again.
      if (this.sent === record) this.sent = undefined;
      throw error;
    }
  }
}
