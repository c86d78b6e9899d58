import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAVICON_SVG } from './demo.page.js';
import { STYLE_CSS } from './demo.style.js';

export interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/**
 * The modules the page loads, by URL path under /assets/, and the module (without extension) of the package
 * each comes from. The URL layout mirrors the package's, so their relative imports (`../presence.constants.js`)
 * resolve in the browser as on disk. Nothing else of the package is served.
 */
const MODULES: Record<string, string> = {
  'client/index.js': 'client/index',
  'client/presence-client.js': 'client/presence-client',
  'client/idle-monitor.js': 'client/idle-monitor',
  'presence.constants.js': 'presence.constants',
  'demo/browser/app.js': 'demo/browser/app',
  'demo/demo.constants.js': 'demo/demo.constants',
  'demo/demo-events.js': 'demo/demo-events',
  'demo/demo-names.js': 'demo/demo-names',
};

const JS = 'text/javascript; charset=utf-8';

/**
 * Reads every asset once, at startup. Run from `dist/` (`npm start`), the compiled `.js` files next to this one
 * are served; run from the TypeScript sources (the tests), the `.ts` files are transpiled here with the
 * `typescript` package of the devDependencies, so no build is needed first. socketcluster-client is its own ES
 * module browser bundle, `socketcluster-client.min.js`.
 */
export async function loadDemoAssets(): Promise<Map<string, Asset>> {
  const here = fileURLToPath(import.meta.url);
  const root = dirname(dirname(here));
  const fromSources = here.endsWith('.ts');
  const transpile = fromSources ? await typescriptTranspiler() : undefined;

  const assets = new Map<string, Asset>();
  const add = (path: string, body: string | Buffer, contentType: string) => {
    const buffer = typeof body === 'string' ? Buffer.from(body) : body;
    assets.set(`/assets/${path}`, { body: buffer, contentType, etag: `"${createHash('sha1').update(buffer).digest('base64url')}"` });
  };

  for (const [path, module] of Object.entries(MODULES)) {
    const source = await readFile(join(root, `${module}${fromSources ? '.ts' : '.js'}`), 'utf8');
    add(path, transpile ? transpile(source) : withoutSourceMap(source), JS);
  }
  const require = createRequire(import.meta.url);
  add('socketcluster-client.js', await readFile(require.resolve('socketcluster-client/socketcluster-client.min.js')), JS);
  add('demo/style.css', STYLE_CSS, 'text/css; charset=utf-8');
  add('favicon.svg', FAVICON_SVG, 'image/svg+xml');
  return assets;
}

/** The browser never asks for the maps (and the sources they name are not served). */
function withoutSourceMap(source: string): string {
  return source.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
}

async function typescriptTranspiler(): Promise<(source: string) => string> {
  const ts = (await import('typescript')).default;
  return (source) =>
    ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, sourceMap: false, removeComments: false },
    }).outputText;
}
