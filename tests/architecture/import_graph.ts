/**
 * The repository's import graph and the rules it must keep (docs/ARCHITECTURE.md):
 *
 * - **Members by name.** A module imports another workspace member only by its name and an
 *   export (`@outpost/platform/log`), never by a relative path into it.
 * - **Arrows point down.** Members have layers (platform → protocol → web → agent, cloud →
 *   tests); a member imports only members of lower layers, so the agent and the cloud never
 *   import each other and the UI kit imports neither.
 * - **Test code stays out of products.** A product module imports no `testing/` module and no
 *   `_test` file; only tests and test support do.
 * - **No cycles** between modules (like Deno std's `lint:circular`).
 *
 * Imports are read with a scanner that skips comments and strings it does not need, which is
 * enough for our own code (no computed specifiers).
 * @module
 */
import { dirname, join, normalize, relative } from "node:path";

/** A workspace member: where it lives, its name, its layer and its exports. */
export interface Member {
  dir: string;
  name: string;
  layer: number;
  exports: Record<string, string>;
}

/** One import statement: the module that has it, the specifier and what it resolves to. */
export interface ImportEdge {
  from: string;
  specifier: string;
  /** Repository-relative module path, or undefined for npm:/node:/bare packages. */
  to?: string;
  line: number;
}

/** A broken rule, with the file and line to fix. */
export interface Violation {
  rule: "relative-cross-member" | "layer" | "testing-in-product" | "unknown-export" | "cycle";
  message: string;
}

/** Layers by member name: a member may import only members of a lower layer. */
export const LAYERS: Record<string, number> = {
  "@outpost/platform": 0,
  "@outpost/protocol": 1,
  "@outpost/web": 2,
  "@outpost/agent": 3,
  "@outpost/cloud": 3,
  "@outpost/tests": 4,
};

const IMPORT_PATTERN =
  /(?:^|[;\s}])(?:import|export)\s*(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The import specifiers of a module's source, with their line numbers; comments are skipped. */
export function scanImports(source: string): { specifier: string; line: number }[] {
  const code = blankComments(source);
  const found: { specifier: string; line: number }[] = [];
  for (const match of code.matchAll(IMPORT_PATTERN)) {
    const specifier = match[1] ?? match[2];
    const start = match.index + match[0].search(/import|export/);
    const line = code.slice(0, start).split("\n").length;
    found.push({ specifier, line });
  }
  return found;
}

/** Replaces comments with spaces (keeping line breaks), so examples in docs are not imports. */
function blankComments(source: string): string {
  let out = "";
  let i = 0;
  let quote: string | null = null;
  while (i < source.length) {
    const c = source[i];
    if (quote) {
      out += c;
      if (c === "\\") out += source[++i] ?? "";
      else if (c === quote) quote = null;
      i++;
    } else if (c === '"' || c === "'" || c === "`") {
      quote = c;
      out += c;
      i++;
    } else if (c === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") {
        out += " ";
        i++;
      }
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? source.length : end + 2;
      out += source.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** The member a repository-relative path belongs to (the deepest member dir holding it). */
export function memberOf(path: string, members: Member[]): Member | undefined {
  let best: Member | undefined;
  for (const member of members) {
    if (path === member.dir || path.startsWith(member.dir + "/")) {
      if (!best || member.dir.length > best.dir.length) best = member;
    }
  }
  return best;
}

/** True for tests and test support: `_test` files and anything under a `testing/` folder. */
export function isTestCode(path: string): boolean {
  return /_test\.tsx?$/.test(path) || /(^|\/)testing\//.test(path) ||
    path.startsWith("tests/");
}

/** Resolves a specifier of module `from` to a repository-relative path (undefined: external). */
export function resolveSpecifier(
  from: string,
  specifier: string,
  members: Member[],
): { to?: string; unknownExport?: boolean } {
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    return { to: normalize(join(dirname(from), specifier)) };
  }
  for (const member of members) {
    if (specifier === member.name || specifier.startsWith(member.name + "/")) {
      const key = "." + specifier.slice(member.name.length);
      const target = member.exports[key];
      if (!target) return { unknownExport: true };
      return { to: normalize(join(member.dir, target)) };
    }
  }
  return {};
}

/** Checks every rule over `modules` (path → source); returns what is broken. */
export function checkImportGraph(
  modules: Map<string, string>,
  members: Member[],
): Violation[] {
  const violations: Violation[] = [];
  const edges = new Map<string, string[]>();
  for (const [path, source] of modules) {
    const targets: string[] = [];
    const fromMember = memberOf(path, members);
    for (const { specifier, line } of scanImports(source)) {
      const where = `${path}:${line}`;
      const { to, unknownExport } = resolveSpecifier(path, specifier, members);
      if (unknownExport) {
        violations.push({
          rule: "unknown-export",
          message: `${where} imports '${specifier}', which its member's deno.json does not export`,
        });
        continue;
      }
      if (!to) continue;
      const toMember = memberOf(to, members);
      const relativeImport = specifier.startsWith(".");
      if (relativeImport && fromMember && toMember && fromMember !== toMember) {
        violations.push({
          rule: "relative-cross-member",
          message: `${where} imports '${specifier}' by relative path into ${toMember.name}; ` +
            `import it as ${toMember.name}/… through that member's exports`,
        });
      }
      if (fromMember && toMember && fromMember !== toMember && !isTestCode(path)) {
        if (toMember.layer >= fromMember.layer) {
          violations.push({
            rule: "layer",
            message: `${where}: ${fromMember.name} (layer ${fromMember.layer}) imports ` +
              `${toMember.name} (layer ${toMember.layer}); imports must point to lower layers`,
          });
        }
      }
      if (isTestCode(to) && !isTestCode(path)) {
        violations.push({
          rule: "testing-in-product",
          message: `${where}: product module imports test code '${specifier}'`,
        });
      }
      if (modules.has(to)) targets.push(to);
    }
    edges.set(path, targets);
  }
  for (const component of findCycles(edges)) {
    const path = cyclePath(component, edges);
    violations.push({
      rule: "cycle",
      message: `import cycle: ${path.join(" → ")}` +
        (component.length > path.length - 1 ? ` (${component.length} modules tangled)` : ""),
    });
  }
  return violations;
}

/** Strongly connected components with more than one module (or a self-import), Tarjan's way. */
export function findCycles(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    indexOf.set(node, index);
    low.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!indexOf.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indexOf.get(next)!));
      }
    }
    if (low.get(node) === indexOf.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (edges.get(node) ?? []).includes(node)) {
        cycles.push(component.reverse());
      }
    }
  };
  for (const node of [...edges.keys()].sort()) if (!indexOf.has(node)) visit(node);
  return cycles;
}

/** One concrete cycle through the first module of a tangled component, shortest first. */
export function cyclePath(component: string[], edges: Map<string, string[]>): string[] {
  const inside = new Set(component);
  const start = component[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of edges.get(node) ?? []) {
      if (!inside.has(next)) continue;
      if (next === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [...component, start];
}

/** Reads the workspace members from the root deno.json under `root`. */
export async function readMembers(root: string): Promise<Member[]> {
  const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
  const members: Member[] = [];
  for (const entry of config.workspace as string[]) {
    const dir = normalize(entry).replace(/\/$/, "");
    const member = JSON.parse(await Deno.readTextFile(join(root, dir, "deno.json")));
    const layer = LAYERS[member.name];
    if (layer === undefined) {
      throw new Error(
        `${dir}/deno.json: member '${member.name}' has no layer in tests/architecture/import_graph.ts`,
      );
    }
    const exports = typeof member.exports === "string" ? { ".": member.exports } : member.exports;
    members.push({ dir, name: member.name, layer, exports: exports ?? {} });
  }
  return members;
}

/** Every TypeScript module under the members' folders (not node_modules or build output). */
export async function readModules(root: string, members: Member[]): Promise<Map<string, string>> {
  const modules = new Map<string, string>();
  const tops = new Set(members.map((member) => member.dir.split("/")[0]));
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(join(root, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        if (entry.name === "node_modules" || entry.name === "build" || entry.name.startsWith(".")) {
          continue;
        }
        await walk(path);
      } else if (/\.tsx?$/.test(entry.name)) {
        modules.set(path, await Deno.readTextFile(join(root, path)));
      }
    }
  };
  for (const top of [...tops].sort()) await walk(top);
  return modules;
}

if (import.meta.main) {
  const root = relative(Deno.cwd(), join(import.meta.dirname!, "..", "..")) || ".";
  const members = await readMembers(root);
  const modules = await readModules(root, members);
  const violations = checkImportGraph(modules, members);
  if (violations.length > 0) {
    for (const violation of violations) console.error(`${violation.rule}: ${violation.message}`);
    console.error(`import graph: ${violations.length} violation(s) in ${modules.size} modules`);
    Deno.exit(1);
  }
  console.log(
    `import graph: ${modules.size} modules in ${members.length} members, ` +
      "no relative import across members, every arrow down, no test code in products, no cycle",
  );
}
