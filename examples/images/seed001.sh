#!/bin/bash
# Builds the versioned stand-ins of seed 001's three components (Dolui & Kiraly, Table I, Figs. 5–6)
# with buildah, in the paper's three forms and with and without the base-image hierarchy:
#
#   core      a Java HTTP service (agile-core)
#   ble       a second Java service built against core's jar, which it carries (agile-ble)
#   nodered   a Node.js HTTP service (agile-nodered)
#
#   self      self-contained Dockerfile: the build tools (JDK, npm), the sources and the build in the
#             image, one layer per instruction (buildah --layers, as docker build does)
#   multi     multi-stage: the same build stage, then only the jar (or the packed app) on the runtime
#   squash    the multi-stage image with buildah --squash: buildah 1.28 flattens the whole image, base
#             included, into one layer (so it is the same with or without the hierarchy: built once)
#
#   -h        with the hierarchy: on pier-examples/jre:17 and pier-examples/node:18 (examples/images),
#             which share the Debian base, and the two Java services share the JRE
#   -n        without: each component on a base image of its own (the runtime image flattened with a
#             marker file, so it shares no layer with any other image), as when developers choose
#             their base images independently
#
# Image names: seed001/<form>-<h|n>/<component>:v<N> (squash: seed001/squash/<component>:v<N>).
# Version N differs from N-1 by a small code change in every component (a constant and one method),
# generated here into the build directory.
#
#   examples/images/seed001.sh [--versions N] [--forms self,multi,squash] [--push HOST:PORT --cert-dir DIR [--creds U:P]]
#
# Needs the example hierarchy's debian, jre and node images in $PIER_EXAMPLES_DIR/oci (build.sh builds
# them); keeps its own buildah store in $PIER_SEED001_DIR (default /var/lib/pier-seed001). Images that
# exist are not built again (--rebuild: all again). Needs root, buildah and skopeo, and the Debian
# mirror (the self-contained and build stages install openjdk-17-jdk-headless and npm).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
examples=${PIER_EXAMPLES_DIR:-/var/lib/pier-examples}
top=${PIER_SEED001_DIR:-/var/lib/pier-seed001}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
die() { echo "seed001.sh: $*" >&2; exit 1; }

versions=5 forms=self,multi,squash push="" cert_dir="" creds="" rebuild=0 list=0
while [ $# -gt 0 ]; do
    case "$1" in
        --versions) [ $# -ge 2 ] || die "--versions needs a number"; versions=$2; shift ;;
        --forms) [ $# -ge 2 ] || die "--forms needs a list"; forms=$2; shift ;;
        --push) [ $# -ge 2 ] || die "--push needs HOST:PORT"; push=$2; shift ;;
        --cert-dir) [ $# -ge 2 ] || die "--cert-dir needs a directory"; cert_dir=$2; shift ;;
        --creds) [ $# -ge 2 ] || die "--creds needs USER:SECRET"; creds=$2; shift ;;
        --rebuild) rebuild=1 ;;
        --list) list=1 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done
[[ $versions =~ ^[1-9][0-9]?$ ]] || die "--versions must be 1..99, not '$versions'"
IFS=, read -r -a form_list <<< "$forms"
for f in "${form_list[@]}"; do case "$f" in self|multi|squash) ;; *) die "--forms: '$f' is not self, multi or squash" ;; esac; done
components=(core ble nodered)

# The sets (form and hierarchy) that --forms asks for, in a fixed order.
sets=()
for f in self multi squash; do
    [[ ",$forms," == *",$f,"* ]] || continue
    if [ "$f" = squash ]; then sets+=(squash); else sets+=("$f-h" "$f-n"); fi
done
if [ "$list" = 1 ]; then
    for s in "${sets[@]}"; do for v in $(seq 1 "$versions"); do for c in "${components[@]}"; do
        echo "seed001/$s/$c:v$v"; done; done; done
    exit 0
fi

[ "$(id -u)" = 0 ] || die "run as root: buildah's chroot isolation needs it"
for tool in buildah skopeo; do command -v "$tool" >/dev/null 2>&1 || die "missing $tool: run scripts/setup.sh --no-build"; done
for name in pier-examples/debian:bookworm pier-examples/jre:17 pier-examples/node:18; do
    skopeo inspect --raw "oci:$examples/oci:$name" >/dev/null 2>&1 \
        || die "$name is not in $examples/oci: run examples/images/build.sh first"
done
if [ -n "$push" ]; then
    [[ $push =~ ^[A-Za-z0-9.-]+:[0-9]+$ ]] || die "--push needs HOST:PORT, not '$push'"
    [ -n "$cert_dir" ] && [ -f "$cert_dir/ca.crt" ] || die "--push needs --cert-dir DIR with ca.crt"
fi

store=$top/storage
runroot=/run/pier-seed001-$(printf '%s' "$top" | sha256sum | cut -c1-12)
work=$top/work
mkdir -p "$store" "$runroot" "$work"
chmod 0700 "$top"
driver=$(cat "$examples/driver" 2>/dev/null || echo vfs)
bh() { buildah --root "$store" --runroot "$runroot" --storage-driver "$driver" "$@"; }
exists() { bh inspect --type image --format '{{.FromImageID}}' "localhost/$1" >/dev/null 2>&1; }

# The hierarchy's images, from build.sh's OCI layout into this store (same layers, same digests).
for name in pier-examples/debian:bookworm pier-examples/jre:17 pier-examples/node:18; do
    if ! exists "$name"; then
        id=$(bh pull --quiet "oci:$examples/oci:$name") || die "could not bring $name into $store"
        bh tag "$id" "localhost/$name"
    fi
done

# Without the hierarchy: a base of each component's own, the runtime image flattened with a marker.
own_base() {
    local c=$1 runtime=pier-examples/jre:17
    [ "$c" = nodered ] && runtime=pier-examples/node:18
    local name=seed001/own-base/$c:1
    if [ "$rebuild" = 1 ] || ! exists "$name"; then
        local ctx=$work/own-base-$c
        mkdir -p "$ctx"
        printf 'FROM %s\nRUN echo "%s: a base image chosen on its own" > /etc/seed001-base\n' "$runtime" "$c" > "$ctx/Dockerfile"
        echo "seed001.sh: building $name (flattened $runtime)"
        bh build --quiet --isolation chroot --pull-never --squash -t "$name" "$ctx" >/dev/null
    fi
}

runtime_of() {  # component, hierarchy (h|n)
    if [ "$2" = n ]; then echo "seed001/own-base/$1:1"
    elif [ "$1" = nodered ]; then echo pier-examples/node:18
    else echo pier-examples/jre:17; fi
}

# The sources of version v: every version changes a constant and adds one small method.
write_sources() {
    local c=$1 v=$2 src=$3
    rm -rf "$src"; mkdir -p "$src"
    case "$c" in
        core|ble)
            local class=Core port=8081 extra=""
            [ "$c" = ble ] && class=Ble port=8083 extra='+ ",\"core\":\"" + Core.VERSION + "\""'
            {
                echo "// seed 001's stand-in for agile-$c, version $v (generated by examples/images/seed001.sh)."
                echo "import com.sun.net.httpserver.HttpServer;"
                echo "import java.io.OutputStream;"
                echo "import java.net.InetSocketAddress;"
                echo "import java.nio.charset.StandardCharsets;"
                echo "public final class $class {"
                echo "    public static final String VERSION = \"$v\";"
                for i in $(seq 1 "$v"); do
                    echo "    static int feature$i(int x) { return x * $i + $((i * 7 % 11)); }"
                done
                echo "    public static void main(String[] args) throws Exception {"
                echo "        int port = args.length > 0 ? Integer.parseInt(args[0]) : $port;"
                echo "        HttpServer server = HttpServer.create(new InetSocketAddress(port), 64);"
                echo "        server.createContext(\"/\", exchange -> {"
                echo "            byte[] body = (\"{\\\"service\\\":\\\"$c\\\",\\\"version\\\":\\\"\" + VERSION + \"\\\",\\\"f\\\":\" + feature$v(1) $extra + \"}\\n\").getBytes(StandardCharsets.UTF_8);"
                echo "            exchange.sendResponseHeaders(200, body.length);"
                echo "            try (OutputStream out = exchange.getResponseBody()) { out.write(body); }"
                echo "        });"
                echo "        server.start();"
                echo "        System.out.println(\"$c \" + VERSION + \" on :\" + port);"
                echo "    }"
                echo "}"
            } > "$src/$class.java"
            ;;
        nodered)
            {
                echo "// seed 001's stand-in for agile-nodered, version $v (generated by examples/images/seed001.sh)."
                echo "'use strict';"
                echo "const http = require('http');"
                echo "const VERSION = '$v';"
                for i in $(seq 1 "$v"); do echo "function feature$i(x) { return x * $i + $((i * 7 % 11)); }"; done
                echo "const port = Number(process.argv[2] || 8082);"
                echo "http.createServer((req, res) => {"
                echo "  res.writeHead(200, { 'Content-Type': 'application/json' });"
                echo "  res.end(JSON.stringify({ service: 'nodered', version: VERSION, f: feature$v(1) }) + '\\n');"
                echo "}).listen(port, () => console.log('nodered ' + VERSION + ' on :' + port));"
            } > "$src/server.js"
            printf '{"name": "nodered", "version": "1.0.%s", "main": "server.js", "license": "MIT"}\n' "$v" > "$src/package.json"
            ;;
    esac
}

# The Dockerfile of a component in a form (self or multi; squash is multi built with --squash).
dockerfile() {
    local c=$1 form=$2 runtime=$3 v=$4 h=$5
    local jdk='RUN mkdir -p /usr/share/man/man1 && apt-get update && apt-get install -y --no-install-recommends openjdk-17-jdk-headless'
    local npm='RUN apt-get update && apt-get install -y --no-install-recommends npm'
    case "$c" in
        core)
            echo "FROM $runtime AS build"
            echo "$jdk"
            echo "COPY src /src"
            echo 'RUN cd /src && javac -d classes Core.java && printf "Main-Class: Core\n" > m.txt && mkdir -p /app && jar --create --file /app/core.jar --manifest m.txt --date 1980-01-01T00:00:02Z -C classes .'
            ;;
        ble)
            local set=$form-$h; [ "$form" = squash ] && set=multi-h
            echo "FROM $runtime AS build"
            echo "$jdk"
            echo "COPY --from=localhost/seed001/$set/core:v$v /app/core.jar /app/core.jar"
            echo "COPY src /src"
            echo 'RUN cd /src && javac -cp /app/core.jar -d classes Ble.java && printf "Main-Class: Ble\nClass-Path: core.jar\n" > m.txt && jar --create --file /app/ble.jar --manifest m.txt --date 1980-01-01T00:00:02Z -C classes .'
            ;;
        nodered)
            echo "FROM $runtime AS build"
            echo "$npm"
            echo "COPY src /src"
            echo 'RUN cd /src && npm pack --offline && mkdir -p /app && tar -xzf nodered-*.tgz -C /app --strip-components=1'
            ;;
    esac
    if [ "$form" != self ]; then
        echo "FROM $runtime"
        echo "COPY --from=build /app /app"
    fi
    case "$c" in
        core) echo 'ENTRYPOINT ["java", "-XX:+UseSerialGC", "-jar", "/app/core.jar"]' ;;
        ble) echo 'ENTRYPOINT ["java", "-XX:+UseSerialGC", "-jar", "/app/ble.jar"]' ;;
        nodered) echo 'ENTRYPOINT ["node", "/app/server.js"]' ;;
    esac
}

built=0
for s in "${sets[@]}"; do
    case "$s" in squash) form=squash h=h ;; *) form=${s%-*} h=${s#*-} ;; esac
    if [ "$h" = n ]; then for c in "${components[@]}"; do own_base "$c"; done; fi
    for v in $(seq 1 "$versions"); do
        for c in "${components[@]}"; do
            name=seed001/$s/$c:v$v
            if [ "$rebuild" = 0 ] && exists "$name"; then continue; fi
            # squash's ble copies core's jar from multi-h's core of the same version.
            if [ "$form" = squash ] && [ "$c" = ble ] && ! exists "seed001/multi-h/core:v$v"; then
                die "squash needs the multi form too (--forms multi,squash)"
            fi
            ctx=$work/ctx/$s/$c/v$v
            rm -rf "$ctx"; mkdir -p "$ctx"
            write_sources "$c" "$v" "$ctx/src"
            dockerfile "$c" "$form" "$(runtime_of "$c" "$h")" "$v" "$h" > "$ctx/Dockerfile"
            flags=(--layers)
            [ "$form" = squash ] && flags=(--layers --squash)
            echo "seed001.sh: building $name"
            bh build --quiet --isolation chroot --pull-never "${flags[@]}" -t "$name" "$ctx" > "$ctx/build.log" 2>&1 \
                || { tail -n 20 "$ctx/build.log" >&2; die "building $name failed (log: $ctx/build.log)"; }
            built=$((built + 1))
        done
    done
done
echo "seed001.sh: $built image(s) built; store $store ($driver)"

if [ -n "$push" ]; then
    auth=(); [ -n "$creds" ] && auth=(--creds "$creds")
    for s in "${sets[@]}"; do for v in $(seq 1 "$versions"); do for c in "${components[@]}"; do
        name=seed001/$s/$c:v$v
        echo "seed001.sh: push $name → docker://$push/$name"
        bh push --quiet --cert-dir "$cert_dir" "${auth[@]}" "localhost/$name" "docker://$push/$name" >/dev/null
    done; done; done
fi
