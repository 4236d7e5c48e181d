/**
 * Where a process's resident memory is, from `/proc/<pid>/smaps`: file-backed pages of the
 * executable (program code, shared and reclaimable), of the native libSQL addon, and the
 * process's own private memory (V8 heap, Rust allocations). RSS alone mixes them; the agent's
 * footprint targets are read against this split (docs/PERFORMANCE.md).
 * @module
 */

/** Resident memory by kind, in bytes. */
export interface MemorySplit {
  rss: number;
  /** File-backed pages of the running executable (deno, or the compiled binary). */
  executable: number;
  /** File-backed pages of the libSQL native addon. */
  libsql: number;
  /** Private dirty pages: what this process itself allocated. */
  privateDirty: number;
}

/** Splits the resident memory of `pid`, whose executable is at `exe` (default /proc/pid/exe). */
export async function memorySplit(pid: number): Promise<MemorySplit> {
  const exe = await Deno.readLink(`/proc/${pid}/exe`).catch(() => "");
  const smaps = await Deno.readTextFile(`/proc/${pid}/smaps`);
  return parseSmaps(smaps, exe);
}

/** Parses smaps text; exported for tests. */
export function parseSmaps(smaps: string, exe: string): MemorySplit {
  const split: MemorySplit = { rss: 0, executable: 0, libsql: 0, privateDirty: 0 };
  let path = "";
  let rss = 0;
  let dirty = 0;
  // File-backed shares count clean pages only: a mapping's private dirty pages are the process's.
  const flush = () => {
    split.rss += rss;
    split.privateDirty += dirty;
    if (exe && path === exe) split.executable += rss - dirty;
    else if (/libsql/.test(path) && path.endsWith(".node")) split.libsql += rss - dirty;
    rss = 0;
    dirty = 0;
  };
  for (const line of smaps.split("\n")) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      flush();
      path = mapping[1];
      continue;
    }
    const field = /^(Rss|Private_Dirty):\s+(\d+) kB/.exec(line);
    if (field?.[1] === "Rss") rss = Number(field[2]) * 1024;
    else if (field?.[1] === "Private_Dirty") dirty = Number(field[2]) * 1024;
  }
  flush();
  return split;
}

/** `rss 77 MB = executable 38 + libSQL 5 + private 33 + other 1` (MB). */
export function describeSplit(split: MemorySplit): string {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
  const other = split.rss - split.executable - split.libsql - split.privateDirty;
  return `RSS ${mb(split.rss)} MB = executable code ${mb(split.executable)} + libSQL addon ${
    mb(split.libsql)
  } + private ${mb(split.privateDirty)} + other ${mb(Math.max(0, other))}`;
}
