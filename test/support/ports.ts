/** Ports for tests: one the OS reports free right now (nothing listens on it once returned). */
import { createServer } from 'node:net';

/**
 * A port bound and released at once: free for a server to take, and refusing connections until
 * one does (a tiny race with other processes is accepted).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
