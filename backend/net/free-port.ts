/**
 * A free TCP port on 127.0.0.1, found by binding port 0 and closing again. Used by the local
 * provider and by the extension's tunnels (this module imports only node:net, so the
 * extension bundle can take it).
 */
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
