#!/bin/bash
# Builds Pier's example images without a Docker engine: a Debian base made by mmdebstrap, runtimes and
# apps on it built from the Dockerfiles here by buildah, as a base-image hierarchy (seed 001) in which
# every image adds one layer to its parent's, so each shared layer is stored and downloaded once:
#
#   pier-examples/debian:bookworm            mmdebstrap minbase, no docs, man pages or apt lists
#   ├── pier-examples/python:3.11            python3, python3-zmq, python3-redis
#   │   ├── pier-examples/zmq-publisher:1    seed 000's pub/sub
#   │   ├── pier-examples/zmq-subscriber:1
#   │   ├── pier-examples/redis-publisher:1  seed 004's publisher (epoch time every 2 ms) and subscriber
#   │   └── pier-examples/redis-subscriber:1
#   ├── pier-examples/jre:17                 openjdk-17-jre-headless
#   │   └── pier-examples/java-hello:1       a tiny Java HTTP service, compiled in a multi-stage build
#   ├── pier-examples/node:18                nodejs
#   │   └── pier-examples/node-hello:1       a tiny Node.js HTTP service
#   └── pier-examples/redis:7                redis-server
#
#   examples/images/build.sh [--rebuild] [--driver overlay|vfs] [--only NAME]... [--push HOST:PORT --cert-dir DIR]
#   examples/images/build.sh --list
#
# The images are kept in buildah's storage under $PIER_EXAMPLES_DIR (default /var/lib/pier-examples:
# storage/, a store of its own, and oci/, an OCI image layout holding every image under its name, each
# blob once). An image is rebuilt only when its Dockerfile, its files or its parent changed (or with
# --rebuild); running the script again changes nothing. Then:
#   pier image import /var/lib/pier-examples/oci                     # every image into a local agent
#   skopeo copy oci:/var/lib/pier-examples/oci:pier-examples/python:3.11 docker://…   # any one image
#   --push HOST:PORT --cert-dir DIR    copies every image to a registry (the manager's: DIR holds ca.crt,
#                                      client.cert and client.key of an admin or operator certificate)
# Needs root (buildah's chroot isolation, mmdebstrap) and Debian's buildah, mmdebstrap and skopeo
# (scripts/setup.sh installs them), and the Debian mirror for the packages.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=${PIER_EXAMPLES_DIR:-/var/lib/pier-examples}
suite=bookworm
mirror=${PIER_EXAMPLES_MIRROR:-http://deb.debian.org/debian}
security=${PIER_EXAMPLES_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# name | directory under examples/images | Dockerfile; parents before children.
images=(
    "pier-examples/debian:bookworm|debian|Dockerfile"
    "pier-examples/python:3.11|python|Dockerfile"
    "pier-examples/jre:17|jre|Dockerfile"
    "pier-examples/node:18|node|Dockerfile"
    "pier-examples/redis:7|redis|Dockerfile"
    "pier-examples/zmq-publisher:1|apps/zmq|Dockerfile.publisher"
    "pier-examples/zmq-subscriber:1|apps/zmq|Dockerfile.subscriber"
    "pier-examples/redis-publisher:1|apps/redis-pubsub|Dockerfile.publisher"
    "pier-examples/redis-subscriber:1|apps/redis-pubsub|Dockerfile.subscriber"
    "pier-examples/java-hello:1|apps/java-hello|Dockerfile"
    "pier-examples/node-hello:1|apps/node-hello|Dockerfile"
)

# The base: Debian's minimal variant, without what a container never reads (kept out of every image
# built on it too, through /etc/dpkg/dpkg.cfg.d), and without apt's package lists.
mmdebstrap_opts=(
    --variant=minbase --format=tar
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr   # /usr merged by the hook, not by the usrmerge package and its perl
    --aptopt='APT::Install-Recommends "false"' --aptopt='APT::Install-Suggests "false"'
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias'
    --dpkgopt='path-exclude=/usr/share/lintian/*'
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/log/apt/* "$1"/var/log/dpkg.log "$1"/var/log/alternatives.log'
)

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
die() { echo "build.sh: $*" >&2; exit 1; }

rebuild=0 driver="" push="" cert_dir="" list=0 only=()
while [ $# -gt 0 ]; do
    case "$1" in
        --rebuild) rebuild=1 ;;
        --driver) [ $# -ge 2 ] || die "--driver needs overlay or vfs"; driver=$2; shift ;;
        --only) [ $# -ge 2 ] || die "--only needs an image name"; only+=("$2"); shift ;;
        --push) [ $# -ge 2 ] || die "--push needs HOST:PORT"; push=$2; shift ;;
        --cert-dir) [ $# -ge 2 ] || die "--cert-dir needs a directory"; cert_dir=$2; shift ;;
        --list) list=1 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done

if [ "$list" = 1 ]; then
    for entry in "${images[@]}"; do echo "${entry%%|*}"; done
    exit 0
fi

# Prerequisites, each missing one said in one line.
[ "$(id -u)" = 0 ] || die "run as root: buildah's chroot isolation and mmdebstrap need it"
missing=()
for tool in buildah mmdebstrap skopeo; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run scripts/setup.sh --no-build (or apt-get install ${missing[*]})"
case "$driver" in ""|overlay|vfs) ;; *) die "--driver must be overlay or vfs, not '$driver'" ;; esac
if [ -n "$push" ]; then
    [[ $push =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "--push needs HOST:PORT, not '$push'"
    [ -n "$cert_dir" ] || die "--push needs --cert-dir DIR with ca.crt, client.cert and client.key (docs/images.md)"
    for f in ca.crt client.cert client.key; do
        [ -f "$cert_dir/$f" ] || die "--cert-dir $cert_dir has no $f (docs/images.md says how to make it)"
    done
fi
for name in "${only[@]}"; do
    found=0
    for entry in "${images[@]}"; do [ "${entry%%|*}" = "$name" ] && found=1; done
    [ "$found" = 1 ] || die "--only $name: not one of the images (--list shows them)"
done

store=$top/storage
# buildah's run root (locks, mounts) belongs on tmpfs, one per store.
runroot=/run/pier-examples
[ "$top" = /var/lib/pier-examples ] || runroot=/run/pier-examples-$(printf '%s' "$top" | sha256sum | cut -c1-12)
layout=$top/oci
work=$top/work
mkdir -p "$store" "$runroot" "$work"
chmod 0700 "$top"

# The storage driver: what the store was made with, else overlay where the kernel mounts it, else vfs.
if [ -z "$driver" ]; then
    if [ -f "$top/driver" ]; then
        driver=$(cat "$top/driver")
    else
        probe=$(mktemp -d "$work/probe.XXXXXX")
        mkdir -p "$probe"/{lower,upper,work,merged}
        if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
            umount "$probe/merged"; driver=overlay
        else
            driver=vfs
        fi
        rm -rf "$probe"
    fi
fi
if [ -f "$top/driver" ] && [ "$(cat "$top/driver")" != "$driver" ]; then
    die "the store $store was made with the $(cat "$top/driver") driver; use it or remove $top"
fi
echo "$driver" > "$top/driver"

bh() { buildah --root "$store" --runroot "$runroot" --storage-driver "$driver" "$@"; }

# The id of an image in the store, empty when it is not there.
image_id() { bh inspect --type image --format '{{.FromImageID}}' "localhost/$1" 2>/dev/null || true; }
image_label() { bh inspect --type image --format "{{index .OCIv1.Config.Labels \"$2\"}}" "localhost/$1" 2>/dev/null || true; }

# What an image is made from: its Dockerfile, the files beside it, the ids of the images it starts from.
inputs_of() {
    local name=$1 dir=$2 file=$3
    {
        echo "$name"
        if [ "$dir" = debian ]; then printf '%s\n' "$suite" "$mirror" "$security" "${mmdebstrap_opts[@]}"; fi
        (cd "$here/$dir" && find . -type f ! -name 'Dockerfile*' ! -name rootfs.tar | LC_ALL=C sort | xargs -r sha256sum)
        sha256sum < "$here/$dir/$file"
        for parent in $(awk 'toupper($1) == "FROM" && $2 ~ /^pier-examples\// { print $2 }' "$here/$dir/$file"); do
            echo "$parent $(image_id "$parent")"
        done
    } | sha256sum | cut -d' ' -f1
}

build_base() {
    local name=$1 dir=$2 file=$3 inputs=$4
    local ctx="$work/debian"
    rm -rf "$ctx"; mkdir -p "$ctx"
    echo "build.sh: mmdebstrap $suite (minbase) → $ctx/rootfs.tar"
    SOURCE_DATE_EPOCH=$(date +%s) mmdebstrap "${mmdebstrap_opts[@]}" "$suite" "$ctx/rootfs.tar" \
        "deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security $suite-security main" \
        > "$work/mmdebstrap.log" 2>&1 || die "mmdebstrap failed; its output is in $work/mmdebstrap.log"
    # The device nodes mmdebstrap puts in /dev: the runtime makes /dev, and Pier refuses layers with devices.
    tar --delete --wildcards -f "$ctx/rootfs.tar" './dev/?*'
    bh build --isolation chroot --pull-never --label "org.pier-examples.inputs=$inputs" \
        -f "$here/$dir/$file" -t "$name" "$ctx"
    rm -rf "$ctx"
}

built=()
for entry in "${images[@]}"; do
    IFS='|' read -r name dir file <<< "$entry"
    if [ ${#only[@]} -gt 0 ]; then
        wanted=0
        for o in "${only[@]}"; do [ "$o" = "$name" ] && wanted=1; done
        [ "$wanted" = 1 ] || continue
    fi
    inputs=$(inputs_of "$name" "$dir" "$file")
    if [ "$rebuild" = 0 ] && [ -n "$(image_id "$name")" ] && [ "$(image_label "$name" org.pier-examples.inputs)" = "$inputs" ]; then
        echo "build.sh: $name is up to date"
        continue
    fi
    for parent in $(awk 'toupper($1) == "FROM" && $2 ~ /^pier-examples\// { print $2 }' "$here/$dir/$file"); do
        [ -n "$(image_id "$parent")" ] || die "$name is built on $parent, which is not built: add --only $parent (or leave out --only)"
    done
    echo "build.sh: building $name from $dir/$file"
    if [ "$dir" = debian ]; then
        build_base "$name" "$dir" "$file" "$inputs"
    else
        # One build, one new layer: without --layers buildah commits each stage's instructions as one layer.
        bh build --isolation chroot --pull-never --label "org.pier-examples.inputs=$inputs" \
            -f "$here/$dir/$file" -t "$name" "$here/$dir"
    fi
    built+=("$name")
done

# Intermediate images of multi-stage builds and images replaced by a rebuild.
bh rmi --prune >/dev/null 2>&1 || true

# The OCI layout: every image under its name; blobs it already holds are not written again.
mkdir -p "$layout"
for entry in "${images[@]}"; do
    name=${entry%%|*}
    [ -n "$(image_id "$name")" ] || continue
    # The image id each name was last written with, so an unchanged image is not written again.
    stamp="$work/written/${name//[\/:]/_}"
    id=$(image_id "$name")
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$id" ] && skopeo inspect --raw "oci:$layout:$name" >/dev/null 2>&1; then
        continue
    fi
    echo "build.sh: writing $name to the OCI layout $layout"
    bh push --quiet "localhost/$name" "oci:$layout:$name"
    mkdir -p "$work/written" && echo "$id" > "$stamp"
    changed=1
done
# A name written again leaves its old manifest in the index without a name: drop such entries and
# every blob no named image uses any more.
if [ "${changed:-0}" = 1 ]; then
    python3 - "$layout" <<'PY'
import json, os, sys
layout = sys.argv[1]
index_path = os.path.join(layout, "index.json")
index = json.load(open(index_path))
keep = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name")]
used = set()
for m in keep:
    used.add(m["digest"])
    manifest = json.load(open(os.path.join(layout, "blobs", *m["digest"].split(":", 1))))
    used.add(manifest["config"]["digest"])
    used.update(layer["digest"] for layer in manifest["layers"])
if len(keep) != len(index["manifests"]):
    index["manifests"] = keep
    with open(index_path + ".tmp", "w") as f:
        json.dump(index, f)
    os.replace(index_path + ".tmp", index_path)
blobs = os.path.join(layout, "blobs", "sha256")
for name in os.listdir(blobs):
    if "sha256:" + name not in used:
        os.remove(os.path.join(blobs, name))
# Layers Pier would refuse to unpack: device nodes, absolute paths, "..".
import tarfile
checked_path = os.path.join(layout, "..", "work", "checked-layers")
checked = set(open(checked_path).read().split()) if os.path.exists(checked_path) else set()
bad = []
for m in keep:
    manifest = json.load(open(os.path.join(layout, "blobs", *m["digest"].split(":", 1))))
    for layer in manifest["layers"]:
        if layer["digest"] in checked:
            continue
        with tarfile.open(os.path.join(layout, "blobs", *layer["digest"].split(":", 1))) as tar:
            for entry in tar:
                if entry.ischr() or entry.isblk() or entry.name.startswith("/") or ".." in entry.name.split("/"):
                    bad.append(f"{m['annotations']['org.opencontainers.image.ref.name']}: layer {layer['digest'][:19]} has {entry.name!r}")
                    break
            else:
                checked.add(layer["digest"])
with open(checked_path, "w") as f:
    f.write("\n".join(sorted(checked)) + "\n")
if bad:
    sys.exit("build.sh: layers Pier refuses to unpack:\n  " + "\n  ".join(bad))
PY
fi

if [ -n "$push" ]; then
    for entry in "${images[@]}"; do
        name=${entry%%|*}
        echo "build.sh: skopeo copy $name → docker://$push/$name"
        skopeo copy --quiet --dest-cert-dir "$cert_dir" "oci:$layout:$name" "docker://$push/$name"
    done
fi

echo
echo "build.sh: ${#built[@]} image(s) built${built:+: ${built[*]}}; the store is $store ($driver), the OCI layout $layout"
printf '%-36s %7s %10s  %s\n' IMAGE LAYERS SIZE "LAYERS (first 12 hex of each diff id)"
for entry in "${images[@]}"; do
    name=${entry%%|*}
    [ -n "$(image_id "$name")" ] || continue
    diffs=$(bh inspect --type image --format '{{range .OCIv1.RootFS.DiffIDs}}{{.}} {{end}}' "localhost/$name")
    count=$(wc -w <<< "$diffs")
    size=$(bh images --noheading --format '{{.Size}}' "localhost/$name" | head -n1)
    short=$(for d in $diffs; do printf '%s\n' "${d#sha256:}" | cut -c1-12; done | tr '\n' ' ')
    printf '%-36s %7s %10s  %s\n' "$name" "$count" "$size" "$short"
done
