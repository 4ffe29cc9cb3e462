/**
 * The HTTP ingest floor: a bare node:http server that reads the body, checks the HMAC-SHA256
 * signature (hex, constant-time) and answers 200. No parsing, no storage: what any receiver has
 * to do at the least. `node dist/bench/children/floor-server.js <secret>` prints its port.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.argv[2];
if (!secret) throw new Error('usage: floor-server.js <secret>');
const key = Buffer.from(secret, 'utf8');

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks);
    const header = String(request.headers['x-truto-signature'] ?? '');
    const given = Buffer.from(header.slice(header.lastIndexOf('v=') + 2), 'hex');
    const expected = createHmac('sha256', key).update(body).digest();
    const ok = given.length === expected.length && timingSafeEqual(given, expected);
    response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    response.end(ok ? '{"ok":true}' : '{"error":"invalid_signature"}');
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
