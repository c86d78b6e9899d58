import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAVICON_SVG } from './demo.page.js';
import { STYLE_CSS } from './demo.style.js';

export interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** What the page loads: the files by URL path, and the import map that resolves its bare imports. */
export interface DemoAssets {
  files: Map<string, Asset>;
  /** The JSON of the page's `<script type="importmap">`. */
  importMap: string;
}

/** The package the page's client helper comes from, as the browser code imports it. */
const CLIENT_ENTRY = 'nestjs-sc-presence/client';
const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const JS = 'text/javascript; charset=utf-8';

/** `import … from '…'`, `export … from '…'` and `import '…'` at the start of a line of an ES module. */
const IMPORTS = /^(?:import|export)\b[^;'"]*?\bfrom\s*(['"])([^'"]+)\1|^import\s*(['"])([^'"]+)\3/gm;

/**
 * Reads every asset once, at startup. The page's modules are found by following the imports of its entry,
 * `browser/app`: the demo's own files are served under /assets/app/, the client helper of the package (the
 * `./client` export of its package.json, and what that imports) under /assets/lib/, each URL mirroring the
 * file's place on disk so that relative imports resolve in the browser as they do in Node. Nothing else is
 * served. Run from the build (`npm start`), the compiled `.js` files are read; run from the TypeScript sources
 * (the tests), the `.ts` sources are transpiled here with the `typescript` package of the devDependencies, the
 * package's `./dist/…` exports read from `src/` (its `rootDir`), so no build is needed first.
 * socketcluster-client is its own ES module browser bundle, `socketcluster-client.min.js`.
 */
export async function loadDemoAssets(): Promise<DemoAssets> {
  const here = fileURLToPath(import.meta.url);
  const fromSources = here.endsWith('.ts');
  const transpile = fromSources ? await typescriptTranspiler() : (source: string) => withoutSourceMap(source);
  const ext = fromSources ? '.ts' : '.js';
  const appRoot = dirname(here);

  const files = new Map<string, Asset>();
  const add = (path: string, body: string | Buffer, contentType: string) => {
    const buffer = typeof body === 'string' ? Buffer.from(body) : body;
    files.set(path, { body: buffer, contentType, etag: `"${createHash('sha1').update(buffer).digest('base64url')}"` });
  };

  const clientFile = await clientEntryFile(fromSources);
  const imports: Record<string, string> = {
    'socketcluster-client': '/assets/socketcluster-client.js',
    [CLIENT_ENTRY]: urlOf(clientFile, appRoot, ext),
  };
  // Depth first from the two entries; a bare import the map does not name would fail in the browser: refuse it here.
  const pending = [join(appRoot, 'browser', `app${ext}`), clientFile];
  const seen = new Set<string>();
  while (pending.length) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = transpile(await readFile(file, 'utf8'));
    add(urlOf(file, appRoot, ext), source, JS);
    for (const specifier of importsOf(source)) {
      if (specifier.startsWith('.')) pending.push(join(dirname(file), specifier.replace(/\.js$/, ext)));
      else if (!(specifier in imports)) throw new Error(`the demo page imports '${specifier}' (in ${file}), which it cannot serve: add it to the import map in demo-assets.ts`);
    }
  }
  const require = createRequire(import.meta.url);
  add('/assets/socketcluster-client.js', await readFile(require.resolve('socketcluster-client/socketcluster-client.min.js')), JS);
  add('/assets/style.css', STYLE_CSS, 'text/css; charset=utf-8');
  add('/assets/favicon.svg', FAVICON_SVG, 'image/svg+xml');
  return { files, importMap: JSON.stringify({ imports }) };
}

function importsOf(source: string): string[] {
  return [...source.matchAll(IMPORTS)].map((match) => match[2] ?? match[4]);
}

/** The file of the package's `./client` export (its `.ts` source in `src/` when running from sources). */
async function clientEntryFile(fromSources: boolean): Promise<string> {
  const pkg = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> };
  const target = pkg.exports['./client'].default;
  return join(PACKAGE_ROOT, fromSources ? target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts') : target);
}

/** The URL of a module: the demo's own under /assets/app/, the package's under /assets/lib/, always `.js`. */
function urlOf(file: string, appRoot: string, ext: string): string {
  const inApp = !relative(appRoot, file).startsWith('..');
  const path = relative(inApp ? appRoot : PACKAGE_ROOT, file).split(sep).join(posix.sep);
  return `/assets/${inApp ? 'app' : 'lib'}/${path.slice(0, -ext.length)}.js`;
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
