#!/bin/bash
# Installs what Pier needs from Debian's packages and builds it in release mode.
# Idempotent: packages already present are not fetched again, and the build is incremental.
#
#   scripts/setup.sh                 packages + `swift build -c release --static-swift-stdlib`
#   scripts/setup.sh --no-build      packages only (what scripts/test.sh uses)
#   scripts/setup.sh --with-docker   also docker.io and docker-registry, the peers the benchmarks in bench/ compare against,
#                                    the network benchmark's tools (ping, iperf3, dnsperf, dnsmasq), Debian's
#                                    pyzmq and redis-py for the pub/sub benchmarks' host runs, and matplotlib
#                                    for the figures bench/seed003_cpu.py draws
#
# Needs Debian 12 and Swift 6.3 (on PATH, or at /opt/swift/usr/bin). Installing packages needs root.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=1
with_docker=0
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        --with-docker) with_docker=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

# What the agent runs on (runc, CNI plugins, overlayfs tools, iptables, dnsmasq for service names), what the package links
# (sqlite3 for GRDB, libarchive with zstd and zlib), what tests and the sample image use
# (busybox-static, skopeo, zstd, libcoap3-bin for the CoAP interop tests, tini for --init), what the benchmarks
# time with (hyperfine; perf for `bench/activation.py --sched`) and the mesh between nodes (wireguard-tools,
# and wireguard-go where the kernel has no WireGuard module). mmdebstrap and buildah build the example
# images of examples/images/ without a Docker engine (docs/images.md); socat carries the mesh tests' 10 MB transfers.
packages=(runc containernetworking-plugins busybox-static libsqlite3-dev libarchive-dev libzstd-dev
          zlib1g-dev skopeo iproute2 iptables util-linux curl zstd hyperfine openssl python3-pip
          libcoap3-bin linux-perf tini wireguard-tools wireguard-go dnsmasq-base mmdebstrap buildah socat)
if [ "$with_docker" = 1 ]; then
    packages+=(docker.io docker-registry)
    # bench/network.py: ping, one TCP stream, DNS load, and the upstream resolver both systems forward to.
    packages+=(iputils-ping iperf3 dnsperf dnsmasq-base)
    # bench/seed000.py: the pub/sub run on the host too, with Debian's python3 and pyzmq as in the images.
    packages+=(python3-zmq python3-redis)
    # bench/seed004.py: reads and rewrites examples/seed004.yml's placement.
    packages+=(python3-yaml)
    # bench/seed003_cpu.py: the PNG of seed 003's Figs. 6–8 (for /usr/bin/python3; the script calls it from another python).
    packages+=(python3-matplotlib)
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#packages[@]} Debian packages already installed"
else
    if [ "$(id -u)" != 0 ]; then
        echo "setup: missing packages: ${missing[*]}; run as root (sudo $0) to install them" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Python modules the checks use: the OpenAPI validator behind scripts/check-openapi.py.
if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
    echo "setup: pip install openapi-spec-validator"
    # Debian's own python3 refuses pip installs unless told (PEP 668); a pyenv python does not.
    python3 -m pip install --quiet openapi-spec-validator 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages openapi-spec-validator
fi

# aiocoap with its OSCORE extras (cbor2, cryptography, filelock, …): the second CoAP peer of
# Tests/PierCoAPInteropTests (libcoap3-bin is the first), the OSCORE client of the CoAP interface's
# tests and of bench/oscore.py, and its OSCORE server there.
if ! python3 -c 'import aiocoap.oscore, aiocoap.oscore_sitewrapper' 2>/dev/null; then
    echo "setup: pip install 'aiocoap[oscore]'"
    python3 -m pip install --quiet 'aiocoap[oscore]' 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages 'aiocoap[oscore]'
fi

if [ "$build" = 1 ]; then
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then
            export PATH=/opt/swift/usr/bin:$PATH
        else
            echo "setup: swift not found on PATH nor at /opt/swift/usr/bin; install Swift 6.3 first" >&2
            exit 1
        fi
    fi
    echo "setup: swift build -c release --static-swift-stdlib ($(swift --version 2>/dev/null | head -n 1))"
    cd "$root"
    # Static Swift runtime: one self-contained binary that starts faster and maps less.
    # (Our two products only: the package plugins' host tools do not link statically.)
    swift build -c release --static-swift-stdlib --product pier
    swift build -c release --static-swift-stdlib --product pier-shim
    echo "setup: built $root/.build/release/pier and pier-shim"
fi
