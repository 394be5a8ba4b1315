/**
 * A local TCP forwarder: listens on 127.0.0.1 and pipes each connection to the upstream (the
 * instance for direct connections, the plugin's port for SSM). It exists so the extension sees
 * traffic (the keep-alive counts it as use) and so the port the panels use never changes while
 * the upstream reconnects.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface ForwarderOptions {
  upstream: () => { host: string; port: number };
  /** Called (at most once a second) when bytes flow in either direction. */
  onTraffic?: () => void;
  port?: number;
}

export class TcpForwarder {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private lastTraffic = 0;
  port = 0;

  constructor(private readonly o: ForwarderOptions) {}

  async listen(): Promise<number> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.o.port ?? 0, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  private traffic(): void {
    const now = Date.now();
    if (now - this.lastTraffic < 1000) return;
    this.lastTraffic = now;
    this.o.onTraffic?.();
  }

  private accept(client: Socket): void {
    const { host, port } = this.o.upstream();
    const upstream = connect({ host, port });
    this.sockets.add(client);
    this.sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("data", () => this.traffic());
    upstream.on("data", () => this.traffic());
    client.pipe(upstream);
    upstream.pipe(client);
    client.once("error", close);
    upstream.once("error", close);
    client.once("close", close);
    upstream.once("close", close);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
