/**
 * One thing the client wants the server to hold for its socket (the status, the session state), which every
 * new connection loses: the server starts each socket with `initial`, and starts it over when it logs out or
 * in as someone else. It remembers what was sent under which key (the connection and the signed-in user), so
 * that after a reconnect or such a login it knows to send again, and only then.
 */
export class ConnectionWish<T> {
  private wanted: T;
  /** The last value sent (or being sent) and under which key. */
  private sent?: { key: string | null; value: T };

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

  /** Whether the server lacks the wanted value under `key` (nothing sent under it yet counts as `initial`). */
  missing(key: string | null): boolean {
    const held = this.sent && this.sent.key === key ? this.sent.value : this.initial;
    return held !== this.wanted;
  }

  /** The server has dropped what was sent (it holds `initial` again): the next sync sends again. */
  forget(): void {
    this.sent = undefined;
  }

  /** Sends the wanted value under `key`; resolves once the server stored it. */
  async send(key: string | null): Promise<void> {
    const record = { key, value: this.wanted };
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
