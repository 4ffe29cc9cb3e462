/**
 * Where the KurrentDB integration tests find a server: `KURRENTDB_URL` (e.g.
 * `kurrentdb://localhost:2113?tls=false`, as `docker compose up kurrentdb` provides). No server can
 * run on the project's own machines, so without it those tests report that they did not run.
 */
export function kurrentDbUrl(): string | undefined {
  const url = process.env.KURRENTDB_URL;
  return url && url.trim() !== '' ? url.trim() : undefined;
}
