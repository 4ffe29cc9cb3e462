// Builds the dashboard (ui/) into dist/ui: one bundled script, one stylesheet and the icon, each
// named by its content hash (served as immutable), and index.html pointing at them. Run by
// `npm run build`.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist/ui');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await build({
  entryPoints: { app: join(root, 'ui/main.ts'), style: join(root, 'ui/style.css') },
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const script = outputs.find((name) => /^app-.*\.js$/.test(name));
const style = outputs.find((name) => /^style-.*\.css$/.test(name));
if (!script || !style) throw new Error(`dashboard build: missing outputs in ${outputs.join(', ')}`);

// The icon too: without one the browser asks for /favicon.ico and logs the 404.
const icon = readFileSync(join(root, 'ui/favicon.svg'));
const iconName = `favicon-${createHash('sha256').update(icon).digest('hex').slice(0, 8)}.svg`;
writeFileSync(join(out, 'assets', iconName), icon);

const page = readFileSync(join(root, 'ui/index.html'), 'utf8')
  .replace('%SCRIPT%', `/assets/${script}`)
  .replace('%STYLE%', `/assets/${style}`)
  .replace('%ICON%', `/assets/${iconName}`);
writeFileSync(join(out, 'index.html'), page);
