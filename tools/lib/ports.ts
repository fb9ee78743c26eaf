/**
 * Port helpers: find a free loopback port, check whether one is taken.
 */
import net from "node:net";

/** A port the OS says is free on 127.0.0.1 right now. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Several distinct free ports. */
export async function freePorts(n: number, host = "127.0.0.1"): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort(host));
  return [...out];
}

/**
 * Whether something already listens on `port` (on any of 127.0.0.1, 0.0.0.0, ::). Tries to bind; a bind that
 * fails with EADDRINUSE means taken.
 */
export async function isPortTaken(port: number): Promise<boolean> {
  for (const host of ["127.0.0.1", "0.0.0.0", "::"]) {
    const taken = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "EADDRINUSE" || err.code === "EACCES"));
      srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
    });
    if (taken) return true;
  }
  return false;
}
