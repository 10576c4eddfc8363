// Serves a static site: `node static-server.mjs <folder>`, on 127.0.0.1:$PORT. It runs as the
// deployment's app process, so it is plain Node with no dependencies and no TypeScript.
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.zip': 'application/zip',
};

const NOT_FOUND_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>404: Not found</title></head>
<body style="font-family: system-ui, sans-serif; text-align: center; padding: 4rem">
<h1>404</h1><p>This page could not be found.</p></body></html>
`;

// Bundlers put a content hash in the names of assets that never change (app.3f9a1c2b.js,
// index-B7x9kQ2a.css): those can be cached for good, everything else must be revalidated.
const HASHED_NAME = /[.-](?=[A-Za-z_]*\d)[A-Za-z0-9_]{8,}\.[a-z0-9]+$/;

const [directory] = process.argv.slice(2);
if (!directory) {
  console.error('usage: static-server.mjs <folder>');
  process.exit(2);
}
const root = await realpath(directory);
const port = Number(process.env.PORT ?? 3000);

/** The file for a URL path, or null; never anything outside `root`, nor a dotfile (.git, .env). */
async function resolve(pathname) {
  let segments;
  try {
    segments = pathname.split('/').map(decodeURIComponent);
  } catch {
    return null;
  }
  for (const segment of segments) {
    if (segment.includes('\0') || segment.includes('/') || segment.includes('\\')) return null;
    if (segment.startsWith('.') && segment !== '.well-known') return null;
  }
  const path = join(root, ...segments);
  for (const candidate of pathname.endsWith('/') ? [join(path, 'index.html')] : [path, `${path}.html`]) {
    const found = await inside(candidate);
    if (!found) continue;
    const info = await stat(found);
    if (info.isFile()) return { path: found, info };
    if (info.isDirectory() && candidate === path) return { redirect: `${pathname}/` };
  }
  return null;
}

/** The real path when it exists and stays within `root` once symbolic links are followed. */
async function inside(path) {
  try {
    const real = await realpath(path);
    return real === root || real.startsWith(root + sep) ? real : null;
  } catch {
    return null;
  }
}

async function notFound(req, res) {
  let body = NOT_FOUND_PAGE;
  const custom = await inside(join(root, '404.html'));
  if (custom) body = await readFile(custom, 'utf8').catch(() => NOT_FOUND_PAGE);
  res.writeHead(404, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Method not allowed\n');
    return;
  }
  let url;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    res.writeHead(400).end();
    return;
  }
  const found = await resolve(url.pathname);
  if (!found) return notFound(req, res);
  if (found.redirect) {
    res.writeHead(301, { Location: `${found.redirect}${url.search}` }).end();
    return;
  }

  const { path, info } = found;
  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const type = TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
  const headers = {
    'Content-Type': type,
    'Last-Modified': info.mtime.toUTCString(),
    ETag: etag,
    'Cache-Control': type.startsWith('text/html')
      ? 'public, max-age=0, must-revalidate'
      : HASHED_NAME.test(path)
        ? 'public, max-age=31536000, immutable'
        : 'public, max-age=3600, must-revalidate',
    'X-Content-Type-Options': 'nosniff',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': info.size });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(path);
  let sent = 0;
  stream.on('data', (chunk) => {
    sent += chunk.length;
    if (sent === info.size) wholeBodySent.add(res);
  });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** Responses whose file went out in full, even if the client hung up before `end()` was called. */
const wholeBodySent = new WeakSet();

function accessLogLine(req, res) {
  const complete = res.writableFinished || wholeBodySent.has(res);
  return `${req.method} ${req.url} ${res.statusCode}${complete ? '' : ' (the client went away)'}`;
}

const server = createServer((req, res) => {
  // On 'close', not 'finish': a client that closes as soon as it has the body (Connection: close)
  // can end the socket before the file stream's end reaches res.end(), and 'finish' never comes.
  res.on('close', () => console.log(accessLogLine(req, res)));
  handle(req, res).catch((error) => {
    console.error(`${req.method} ${req.url} failed: ${error.message}`);
    if (!res.headersSent) res.writeHead(500).end();
    else res.destroy();
  });
});

server.listen(port, '127.0.0.1', () => console.log(`Serving the static site on port ${port}`));

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
