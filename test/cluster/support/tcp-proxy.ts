import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of MariaDB that a test can cut in two ways. `cut()` is a refusing partition: every piped
 * connection is destroyed and new ones fail at once (accepted, then destroyed). `blackhole()` is a silent one:
 * nothing is closed, but every byte either way is swallowed and new connections are accepted and never answered,
 * as when packets are dropped with no RST. A connection that was open during a blackhole stays a black hole for
 * good (its protocol state is lost), as a peer behind a dropped NAT entry does. `restore()` pipes new
 * connections again. It listens on port 0.
 */
export class TcpProxy {
  private server?: Server;
  private readonly pairs = new Set<{ inbound: Socket; outbound: Socket; end: () => void }>();
  private refusing = false;
  private silent = false;
  /** Set by `blackholeAfter`: the texts of the statement after which to go silent. */
  private armed?: Buffer[];
  /** Connections that a blackhole swallowed: kept open, never answered, closed only by the other side or close(). */
  private readonly swallowed = new Set<Socket>();
  port = 0;
  /** Connections accepted so far, and refused while cut. */
  accepted = 0;
  refused = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async listen(): Promise<this> {
    this.server = createServer((inbound) => this.accept(inbound));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  /** The local ports of the proxy's open connections to the target: how the target sees them (HOST ip:port). */
  outboundLocalPorts(): number[] {
    return [...this.pairs].map((p) => p.outbound.localPort).filter((port): port is number => typeof port === 'number');
  }

  get open(): number {
    return this.pairs.size;
  }

  /** New connections are accepted and destroyed at once from now on; open ones stay until `dropAll()`. */
  refuseNew(): void {
    this.refusing = true;
  }

  /** Destroys every piped connection, both sides. */
  dropAll(): void {
    for (const pair of this.pairs) {
      pair.inbound.destroy();
      pair.outbound.destroy();
    }
    this.pairs.clear();
  }

  cut(): void {
    this.refuseNew();
    this.dropAll();
  }

  /** Drops every byte of open and new connections without closing anything. */
  blackhole(): void {
    this.silent = true;
    for (const pair of this.pairs) {
      // From now on neither side hears of the other closing, as when the FIN is dropped too.
      for (const socket of [pair.inbound, pair.outbound]) socket.off('close', pair.end).off('error', pair.end);
      this.swallow(pair.inbound);
      this.swallow(pair.outbound);
    }
    this.pairs.clear();
  }

  /**
   * Pipes on until a packet to the target contains every one of `texts`, lets that packet through, then
   * blackholes: the server has run that statement (a `FOR UPDATE` holds its locks) and hears no more of it.
   */
  blackholeAfter(...texts: string[]): void {
    this.armed = texts.map((text) => Buffer.from(text));
    for (const pair of this.pairs) this.watch(pair);
  }

  /** Forwards what the client sends, one packet at a time, and blackholes after the armed statement. */
  private watch({ inbound, outbound }: { inbound: Socket; outbound: Socket }): void {
    inbound.unpipe(outbound);
    const forward = (chunk: Buffer) => {
      outbound.write(chunk);
      if (!this.armed?.every((needle) => chunk.includes(needle))) return;
      this.armed = undefined;
      this.blackhole();
    };
    inbound.on('data', forward);
    inbound.resume(); // unpipe() paused it
  }

  restore(): void {
    this.refusing = false;
    this.silent = false;
    this.armed = undefined;
  }

  /** Connections swallowed by a blackhole that the other side has not closed yet. */
  get swallowing(): number {
    return this.swallowed.size;
  }

  async close(): Promise<void> {
    this.cut();
    for (const socket of this.swallowed) socket.destroy();
    this.swallowed.clear();
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  private accept(inbound: Socket): void {
    if (this.refusing) {
      this.refused++;
      inbound.destroy();
      return;
    }
    if (this.silent) {
      this.swallow(inbound);
      return;
    }
    this.accepted++;
    const outbound = createConnection({ host: this.targetHost, port: this.targetPort });
    const end = () => {
      this.pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    const pair = { inbound, outbound, end };
    this.pairs.add(pair);
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
    if (this.armed) this.watch(pair);
    else inbound.pipe(outbound);
    outbound.pipe(inbound);
  }

  /** Reads and discards whatever arrives; the socket stays open until its peer or close() ends it. */
  private swallow(socket: Socket): void {
    socket.unpipe();
    socket.removeAllListeners('data');
    this.swallowed.add(socket);
    socket.on('data', () => {});
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.swallowed.delete(socket));
    socket.resume();
  }
}
