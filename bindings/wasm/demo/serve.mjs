// A tiny static file server for the demo page: serves the package directory
// (bindings/wasm) on 127.0.0.1, so that /demo/ can import /index.js and
// /pkg/. Run: node demo/serve.mjs [port] — then open http://127.0.0.1:PORT/demo/
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".ts": "text/plain; charset=utf-8",
  ".png": "image/png",
};
// Only what the page needs: the demo, the package's modules and pkg/.
const ALLOWED = ["demo", "pkg", "index.js", "errors.js"];

/** Starts the server on `port` (0: any free port); resolves to { server, url }. */
export function serve(port = 0) {
  const server = createServer(async (req, res) => {
    try {
      let path = decodeURIComponent(new URL(req.url, "http://localhost").pathname);
      if (path === "/") path = "/demo/";
      if (path.endsWith("/")) path += "index.html";
      const rel = normalize(path).replace(/^[/\\]+/, "");
      const top = rel.split(sep)[0];
      if (rel.startsWith("..") || !ALLOWED.includes(top)) throw Object.assign(new Error(), { code: "ENOENT" });
      const body = await readFile(join(ROOT, rel));
      res.writeHead(200, {
        "content-type": TYPES[extname(rel)] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch (e) {
      res.writeHead(e.code === "ENOENT" || e.code === "EISDIR" ? 404 : 500, { "content-type": "text/plain" });
      res.end("not found\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      resolve({ server, url: `http://127.0.0.1:${server.address().port}/demo/` });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await serve(Number(process.argv[2] ?? 8080));
  console.log(`Sova demo: ${url}`);
}
