/**
 * Another process holding a SQLite file's write lock, for the busy-database tests.
 *
 * argv: path
 * stdout: `locked` once `BEGIN IMMEDIATE` holds the lock, `released` after it let go.
 * stdin: `release` ends the transaction (rollback) and exits 0.
 */
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]);
db.pragma('busy_timeout = 5000');
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'release') return;
  db.exec('ROLLBACK');
  db.close();
  process.stdout.write('released\n');
  process.exit(0);
});
