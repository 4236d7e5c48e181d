/**
 * The UI's client assets at run time: read once at start from the build's `manifest.json`
 * (see `web/build.ts`), kept in memory, served at `/assets/<hashed name>` with a one-year
 * immutable cache.
 *
 * Without a build (a fresh checkout, unit tests) the server still works: the stylesheet is
 * hashed from its source at start and served the same way, and pages carry no script, so every
 * island stays the server-rendered HTML it already is (each page works without JavaScript by
 * design). A warning says to run `deno task build:web`.
 *
 * Paths are relative to this module, so a `deno compile` with `--include web/static` finds them.
 * @module
 */
import { Hono } from "hono";
import { extname, join } from "node:path";
import { HttpError } from "@outpost/platform/http_error";
import type { Logger } from "@outpost/platform/log";
import { type AssetManifest, BUILD_DIR, hashedName, MANIFEST_FILE, STYLESHEETS } from "./build.ts";

/** One servable file. */
export interface Asset {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
}

/** The loaded assets. */
export interface AssetSet {
  /** `/assets/<hashed name>` of a logical name such as `app.css`, if available. */
  href(logical: string): string | undefined;
  /** The asset stored under a hashed file name. */
  get(file: string): Asset | undefined;
  /** True when no build was found: CSS from source, no client JavaScript. */
  readonly fallback: boolean;
}

/** Options of {@link loadAssets}. */
export interface LoadAssetsOptions {
  /** Default `web/static/build`. */
  buildDir?: string;
  /** Logical name → source of the stylesheets served when there is no build. */
  stylesheets?: Record<string, string>;
  logger?: Logger;
}

/** URL prefix of the assets. */
export const ASSETS_PATH = "/assets/";
/** `Cache-Control` of every asset: the name changes whenever the content does. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/**
 * Reads the build (or, without one, the stylesheet sources) into memory. Never throws: a broken
 * build is logged and treated as missing, a missing stylesheet source leaves pages unstyled but
 * working.
 */
export async function loadAssets(options: LoadAssetsOptions = {}): Promise<AssetSet> {
  const buildDir = options.buildDir ?? BUILD_DIR;
  const manifestPath = join(buildDir, MANIFEST_FILE);
  const files = new Map<string, Asset>();
  const hrefs = new Map<string, string>();
  let built = false;
  try {
    const manifest = await readManifest(manifestPath);
    if (manifest) {
      for (const [logical, file] of Object.entries(manifest)) {
        const body = await Deno.readFile(join(buildDir, file));
        files.set(file, { body, contentType: typeOf(file) });
        hrefs.set(logical, ASSETS_PATH + file);
      }
      built = true;
    } else {
      options.logger?.warn(
        "UI client assets are not built: serving CSS from source and no client JavaScript " +
          "(pages work, islands stay static); run `deno task build:web`",
        { manifest: manifestPath },
      );
    }
  } catch (error) {
    files.clear();
    hrefs.clear();
    options.logger?.error("UI client assets are unusable; serving CSS from source and no JS", {
      manifest: manifestPath,
      error,
    });
  }
  if (!built) {
    for (const [logical, source] of Object.entries(options.stylesheets ?? STYLESHEETS)) {
      try {
        const body = await Deno.readFile(source);
        const file = hashedName(logical, body);
        files.set(file, { body, contentType: typeOf(file) });
        hrefs.set(logical, ASSETS_PATH + file);
      } catch (error) {
        options.logger?.error("UI stylesheet missing; pages render unstyled", { source, error });
      }
    }
  }
  return {
    href: (logical) => hrefs.get(logical),
    get: (file) => files.get(file),
    fallback: !built,
  };
}

async function readManifest(path: string): Promise<AssetManifest | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const parsed = JSON.parse(text);
  const valid = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) &&
    Object.values(parsed).every((file) => typeof file === "string" && /^[\w.-]+$/.test(file));
  if (!valid) throw new Error(`${path} is not a map of logical names to file names`);
  return parsed;
}

function typeOf(file: string): string {
  return CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
}

/** The stylesheet and the client bundle named `script` a page links to, where available. */
export function pageAssets(
  assets: AssetSet,
  script: string,
): { stylesheets: string[]; scripts: string[] } {
  const stylesheet = assets.href("app.css");
  const bundle = assets.href(script);
  return { stylesheets: stylesheet ? [stylesheet] : [], scripts: bundle ? [bundle] : [] };
}

/** `GET /assets/:file` from `assets`; unknown files are a 404 in the JSON envelope. */
export function assetRoutes(assets: AssetSet): Hono {
  const app = new Hono();
  app.get(`${ASSETS_PATH}:file`, (c) => {
    const file = c.req.param("file");
    const asset = assets.get(file);
    if (!asset) throw new HttpError(404, "not_found", `No asset named '${file.slice(0, 100)}'`);
    c.header("Content-Type", asset.contentType);
    c.header("Cache-Control", IMMUTABLE);
    return c.body(asset.body);
  });
  return app;
}
