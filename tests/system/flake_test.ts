// System tests of flake.nix with Debian's nix-bin (Nix 2.8). Nixpkgs cannot be fetched here, so
// besides parsing, the flake's `outputs` function is evaluated against a stub nixpkgs that has
// the same shape (lib.genAttrs, mkShell, stdenvNoCC.mkDerivation, runCommand, packages as named
// placeholders): that checks the flake's own logic and the package lists, not that nixpkgs builds.

import assert from "node:assert/strict";
import { requireCommand, runCommand } from "./ansible_helpers.ts";

const REPO_DIR = new URL("../../", import.meta.url).pathname;
const FLAKE = `${REPO_DIR}flake.nix`;
const LINUX = ["x86_64-linux", "aarch64-linux"];
const DARWIN = ["x86_64-darwin", "aarch64-darwin"];
const SHELL_TOOLS = [
  "deno",
  "kubectl",
  "kustomize",
  "fluxcd",
  "kind",
  "k3d",
  "kubernetes-helm",
  "ansible",
  "ansible-lint",
  "sops",
  "age",
  "prometheus",
  "mosquitto",
  "nginx",
  "sqlite",
  "postgresql",
  "openssl",
  "qemu",
];

/** A nixpkgs look-alike: every package is `{ stubName; outPath; }`, builders return their args. */
const STUB_EVAL = `
{ flakePath }:
let
  flake = import flakePath;
  allSystems = [ ${[...LINUX, ...DARWIN].map((s) => `"${s}"`).join(" ")} ];
  lib = {
    genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
    optionals = cond: list: if cond then list else [ ];
    optionalString = cond: s: if cond then s else "";
    platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
    fileset = {
      unions = list: map builtins.baseNameOf list;
      toSource = { root, fileset }: { root = builtins.baseNameOf root; files = fileset; };
    };
  };
  show = src: if builtins.isPath src then builtins.baseNameOf src else src;
  pkg = name: { stubName = name; outPath = "/nix/store/stub-\${name}"; };
  names = [ ${
  [...SHELL_TOOLS, "chromium", "git", "jq", "nixpkgs-fmt", "alejandra"].map((s) => `"${s}"`).join(
    " ",
  )
} ];
  stubPkgs = system: (lib.genAttrs names pkg) // {
    inherit lib;
    stdenv = {
      isLinux = builtins.match ".*-linux" system != null;
      isDarwin = builtins.match ".*-darwin" system != null;
    };
    mkShell = args: {
      shellName = args.name;
      packages = map (p: p.stubName) args.packages;
      inherit (args) shellHook;
    };
    stdenvNoCC.mkDerivation = args: {
      inherit (args) pname version meta installPhase;
      src = show args.src;
    };
    runCommand = name: env: script: {
      inherit name script;
      inputs = map (p: p.stubName) env.nativeBuildInputs;
      src = show env.src;
    };
  };
  nixpkgs = { inherit lib; legacyPackages = lib.genAttrs allSystems stubPkgs; };
  outputs = flake.outputs { self = { }; inherit nixpkgs; };
in
{
  inherit (flake) description inputs;
  inherit (outputs) devShells packages checks;
  formatter = builtins.mapAttrs (system: f: f.stubName) outputs.formatter;
}
`;

interface StubShell {
  shellName: string;
  packages: string[];
  shellHook: string;
}

interface StubPackage {
  pname: string;
  version: string;
  src: string | { root: string; files: string[] };
}

interface EvaluatedFlake {
  description: string;
  inputs: { nixpkgs: { url: string } };
  devShells: Record<string, { default: StubShell }>;
  packages: Record<string, Record<string, StubPackage>>;
  checks: Record<string, Record<string, { name: string; inputs: string[]; script: string }>>;
  formatter: Record<string, string>;
}

async function evaluateFlake(): Promise<EvaluatedFlake> {
  const scratch = await Deno.makeTempDir({ prefix: "outpost-flake-" });
  try {
    await Deno.writeTextFile(`${scratch}/eval.nix`, STUB_EVAL);
    const result = await runCommand([
      "nix-instantiate",
      "--eval",
      "--strict",
      "--json",
      "--readonly-mode",
      `${scratch}/eval.nix`,
      "--arg",
      "flakePath",
      FLAKE,
    ], { cwd: REPO_DIR });
    assert.equal(
      result.code,
      0,
      `evaluating flake.nix against stub nixpkgs failed:\n${result.stderr}`,
    );
    return JSON.parse(result.stdout);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

Deno.test("flake.nix parses with nix-instantiate", async () => {
  await requireCommand("nix-instantiate", "nix-bin");
  const result = await runCommand(["nix-instantiate", "--parse", FLAKE], { cwd: REPO_DIR });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /outputs = \(\{ self, nixpkgs \}:/);
});

Deno.test("flake.nix evaluates against a stub nixpkgs with the promised outputs", async (t) => {
  await requireCommand("nix-instantiate", "nix-bin");
  const flake = await evaluateFlake();

  await t.step("nixpkgs is pinned to a release branch", () => {
    assert.match(flake.inputs.nixpkgs.url, /^github:NixOS\/nixpkgs\/nixos-\d\d\.\d\d$/);
  });

  await t.step("the dev shell has every tool on Linux and macOS, Chromium on Linux only", () => {
    assert.deepEqual(Object.keys(flake.devShells).sort(), [...LINUX, ...DARWIN].sort());
    for (const system of [...LINUX, ...DARWIN]) {
      const shell = flake.devShells[system].default;
      for (const tool of SHELL_TOOLS) {
        assert.ok(shell.packages.includes(tool), `${system} dev shell lacks ${tool}`);
      }
      assert.equal(shell.packages.includes("chromium"), LINUX.includes(system), system);
      assert.equal(shell.shellHook.includes("CHROMIUM_PATH"), LINUX.includes(system), system);
    }
  });

  await t.step(
    "packages exist for Linux only and hold the Ansible tree without real inventories",
    () => {
      assert.deepEqual(Object.keys(flake.packages).sort(), [...LINUX].sort());
      for (const system of LINUX) {
        const packages = flake.packages[system];
        assert.deepEqual(Object.keys(packages).sort(), ["ansible", "default", "docs"]);
        assert.equal(packages.default.pname, "outpost-ansible");
        assert.deepEqual(packages.ansible.src, {
          root: "ansible",
          files: ["ansible.cfg", ".ansible-lint", "playbooks", "roles", "example"],
        });
        assert.equal(packages.docs.src, "docs");
      }
    },
  );

  await t.step("the check runs the syntax check and ansible-lint offline", () => {
    for (const system of LINUX) {
      const check = flake.checks[system].ansible;
      assert.deepEqual(check.inputs.sort(), ["ansible", "ansible-lint", "git"]);
      assert.match(check.script, /ansible-playbook .*--syntax-check playbooks\/\*\.yml/);
      assert.match(check.script, /ansible-lint --offline/);
    }
  });

  await t.step("the formatter is nixpkgs-fmt on every system", () => {
    for (const system of [...LINUX, ...DARWIN]) {
      assert.equal(flake.formatter[system], "nixpkgs-fmt");
    }
  });
});
