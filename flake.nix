{
  description = "Outpost: offline-first edge agent and thin cloud API (dev shell, provisioning bundle)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs = { self, nixpkgs }:
    let
      linuxSystems = [ "x86_64-linux" "aarch64-linux" ];
      # The dev shell also works on macOS (without Chromium: use a local browser there).
      shellSystems = linuxSystems ++ [ "x86_64-darwin" "aarch64-darwin" ];
      forSystems = systems: f:
        nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = "0.1.0";

      # Only what Ansible needs: never the real inventories (they may hold vaults) or dist/.
      ansibleSource = lib: lib.fileset.toSource {
        root = ./ansible;
        fileset = lib.fileset.unions [
          ./ansible/ansible.cfg
          ./ansible/.ansible-lint
          ./ansible/playbooks
          ./ansible/roles
          ./ansible/inventories/example
        ];
      };
    in
    {
      devShells = forSystems shellSystems (pkgs: {
        default = pkgs.mkShell {
          name = "outpost-dev";
          packages = (with pkgs; [
            # runtime and tasks
            deno
            git
            jq
            # delivery: Kustomize, Flux, local clusters, charts
            kubectl
            kustomize
            fluxcd
            kind
            k3d
            kubernetes-helm
            # device provisioning
            ansible
            ansible-lint
            # secrets in Git (SOPS with age) and the monitoring rules (promtool)
            sops
            age
            prometheus
            # services the system tests run for real
            mosquitto
            nginx
            sqlite
            postgresql
            openssl
            # arm64 emulation (qemu-aarch64) for the aarch64 agent build
            qemu
          ]) ++ pkgs.lib.optionals pkgs.stdenv.isLinux [ pkgs.chromium ];

          shellHook = ''
            export DENO_NO_UPDATE_CHECK=1
            export ANSIBLE_CONFIG="$(git rev-parse --show-toplevel 2>/dev/null || pwd)/ansible/ansible.cfg"
            ${pkgs.lib.optionalString pkgs.stdenv.isLinux ''
              # Browser tests drive this Chromium instead of /usr/bin/chromium.
              export CHROMIUM_PATH="${pkgs.chromium}/bin/chromium"
            ''}
            echo "outpost dev shell: deno $(deno --version | head -n1 | cut -d' ' -f2); try: deno task dev"
          '';
        };
      });

      # `deno compile` cannot run in the Nix sandbox: it downloads denort and the npm packages
      # from the network. The agent binaries are built with `deno task compile` outside Nix;
      # what Nix can build reproducibly is the provisioning bundle and the docs.
      packages = forSystems linuxSystems (pkgs: rec {
        ansible = pkgs.stdenvNoCC.mkDerivation {
          pname = "outpost-ansible";
          inherit version;
          src = ansibleSource pkgs.lib;
          dontConfigure = true;
          dontBuild = true;
          installPhase = ''
            runHook preInstall
            mkdir -p "$out/share/outpost"
            cp -r . "$out/share/outpost/ansible"
            runHook postInstall
          '';
          meta = {
            description = "Outpost device provisioning: Ansible playbooks and roles";
            platforms = pkgs.lib.platforms.linux;
          };
        };

        docs = pkgs.stdenvNoCC.mkDerivation {
          pname = "outpost-docs";
          inherit version;
          src = ./docs;
          dontConfigure = true;
          dontBuild = true;
          installPhase = ''
            runHook preInstall
            mkdir -p "$out/share/doc/outpost"
            cp -r . "$out/share/doc/outpost"
            runHook postInstall
          '';
          meta.description = "Outpost documentation (Markdown)";
        };

        default = ansible;
      });

      # `nix flake check`: the same syntax check and lint the system tests run, offline.
      checks = forSystems linuxSystems (pkgs: {
        ansible = pkgs.runCommand "outpost-ansible-check"
          {
            nativeBuildInputs = [ pkgs.ansible pkgs.ansible-lint pkgs.git ];
            src = ansibleSource pkgs.lib;
          } ''
          export HOME="$TMPDIR" ANSIBLE_LOCAL_TEMP="$TMPDIR/ansible" ANSIBLE_CONFIG="$src/ansible.cfg"
          cp -r "$src" "$TMPDIR/ansible-src" && chmod -R u+w "$TMPDIR/ansible-src"
          cd "$TMPDIR/ansible-src"
          ansible-playbook -i inventories/example/hosts.yml --syntax-check playbooks/*.yml
          ansible-lint --offline --nocolor
          touch "$out"
        '';
      });

      formatter = forSystems shellSystems (pkgs: pkgs.nixpkgs-fmt);
    };
}
