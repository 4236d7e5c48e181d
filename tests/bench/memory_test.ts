import assert from "node:assert/strict";
import { describeSplit, memorySplit, parseSmaps } from "./memory.ts";

const SMAPS = `55d0c0000000-55d0c1000000 r-xp 00000000 fd:00 123  /usr/lib/node_modules/deno/deno
Rss:               40960 kB
Private_Dirty:         0 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:00 456  /x/node_modules/@libsql/linux-x64-gnu/index.node
Rss:                5120 kB
Private_Dirty:         0 kB
7f1000000000-7f1002000000 rw-p 00000000 00:00 0
Rss:               30720 kB
Private_Dirty:     30720 kB
7f2000000000-7f2000100000 r-xp 00000000 fd:00 789  /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1024 kB
Private_Dirty:         0 kB
`;

Deno.test("parseSmaps splits RSS into executable, libSQL addon and private memory", () => {
  const split = parseSmaps(SMAPS, "/usr/lib/node_modules/deno/deno");
  assert.deepEqual(split, {
    rss: (40960 + 5120 + 30720 + 1024) * 1024,
    executable: 40960 * 1024,
    libsql: 5120 * 1024,
    privateDirty: 30720 * 1024,
  });
  assert.equal(
    describeSplit(split),
    "RSS 80 MB = executable code 42 + libSQL addon 5 + private 31 + other 1",
  );
});

Deno.test("memorySplit reads this very process and adds up", async () => {
  const split = await memorySplit(Deno.pid);
  assert.ok(split.executable > 0, "the deno executable is mapped");
  assert.ok(split.privateDirty > 0);
  assert.ok(split.executable + split.libsql + split.privateDirty <= split.rss);
});
