import { Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { AGServer } from 'socketcluster-server';
import { requireOptionalPeer } from '../options/optional-peer.loader.js';
import { SCC_INSTALL } from '../presence.messages.js';
import { PresenceConfig } from '../options/presence.config.js';
import { PresenceInstance } from '../store/presence.instance.js';

const require = createRequire(import.meta.url);
/** scc-broker-client has no flush: how long the last publishes get to leave before its sockets close. */
const SHUTDOWN_GRACE_MS = 200;

interface ClosableSocket {
  disconnect(): void;
  killAllListeners(): void;
  killAllProcedures(): void;
  killAllReceivers(): void;
}

/**
 * Joins SCC, SocketCluster's cluster engine: scc-broker-client relays this instance's publishes (the user
 * count, channel presence, the app's own) to the brokers and back to every other instance. Attached once the
 * HTTP server listens, because the state server is told this instance's port.
 */
@Injectable()
export class PresenceScc {
  private readonly logger = new Logger('PresenceScc');
  private stateSocket?: ClosableSocket;
  private clusterClient?: { setBrokers(uris: string[]): void; listener(name: string): AsyncIterable<{ error: Error }> };
  private sccBrokerClient?: { attach(brokerEngine: unknown, options: object): NonNullable<PresenceScc['clusterClient']> };
  private stopped = false;
  private onListening?: () => void;

  constructor(
    private readonly config: PresenceConfig,
    private readonly instance: PresenceInstance,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  start(server: AGServer): void {
    const scc = this.config.options.scc;
    if (!scc) return;
    // Loaded now, so that a missing package fails app.init() and not the later 'listening'.
    this.sccBrokerClient = requireOptionalPeer('scc-broker-client', 'scc', SCC_INSTALL);
    const httpServer = server.httpServer ?? this.adapterHost.httpAdapter?.getHttpServer?.();
    const attach = () => this.attach(server, (httpServer?.address() as AddressInfo | null)?.port ?? 0);
    if (!httpServer || httpServer.listening) {
      attach();
    } else {
      this.onListening = attach;
      httpServer.once('listening', attach);
    }
  }

  /** Leaves the cluster, after giving publishes made just before (the final count) a moment to reach the brokers. */
  async stop(server?: AGServer): Promise<void> {
    if (this.clusterClient) await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS));
    this.stopped = true;
    if (this.onListening) (server?.httpServer ?? this.adapterHost.httpAdapter?.getHttpServer?.())?.off?.('listening', this.onListening);
    // scc-broker-client has no detach: end its broker connections and its state server socket ourselves.
    this.clusterClient?.setBrokers([]);
    if (this.stateSocket) {
      this.stateSocket.disconnect();
      this.stateSocket.killAllListeners();
      this.stateSocket.killAllProcedures();
      this.stateSocket.killAllReceivers();
    }
  }

  private attach(server: AGServer, port: number): void {
    if (this.stopped) return;
    const { stateServerHost, stateServerPort, ...rest } = this.config.options.scc!;
    // Its own socketcluster-client (9.x brings a 19.x of its own), which may not be the app's.
    const scClient = createRequire(require.resolve('scc-broker-client'))('socketcluster-client');
    // The state server socket is created inside attach() and not returned: catch it so shutdown can close it.
    const create = scClient.create;
    scClient.create = (options: unknown) => (this.stateSocket = create(options));
    try {
      this.clusterClient = this.sccBrokerClient!.attach(server.brokerEngine, {
        instanceId: this.instance.id,
        instancePort: port,
        stateServerHost,
        stateServerPort,
        ...rest,
      });
    } finally {
      scClient.create = create;
    }
    const client = this.clusterClient!;
    void (async () => {
      for await (const { error } of client.listener('error')) this.logger.warn(`SCC: ${error?.message ?? error}`);
    })();
    this.logger.log(`joined the SCC cluster through ${stateServerHost}:${stateServerPort ?? 7777}`);
  }
}
