#!/bin/bash
# Sets Pier up on this gateway and deploys a sample stack: the embedded single-gateway default.
#
#   1. scripts/setup.sh (Debian packages, `swift build -c release --static-swift-stdlib`)
#   2. `pier up --data-root /var/lib/pier` in the background: manager and agent in one process
#      (log /var/lib/pier/pier.log, pid file /var/lib/pier/pier.pid), reused if it already runs;
#      local socket unix:///var/lib/pier/pier.sock, agents join on tcp://0.0.0.0:7443
#   3. builds sample/hello:1 (busybox httpd) with `pier image build` and deploys
#      examples/hello-stack.yml as the stack `hello` (service hello_web, port 8080), then
#      waits until the page answers and prints `pier service ls` and `pier service ps`
#
#   scripts/up.sh                  as above
#   scripts/up.sh --restart        stop the running pier (by its pid file) and start a new one
#   scripts/up.sh --no-setup       skip step 1 (packages and build already done)
# PIER (the binary), PIER_DATA_ROOT and PIER_REMOTE (the tcp:// address, "" for none) override the defaults.
# Needs root. Stop it with: kill "$(cat /var/lib/pier/pier.pid)" (containers keep running; the next start adopts them)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_root=${PIER_DATA_ROOT:-/var/lib/pier}
sock=$data_root/pier.sock
pidfile=$data_root/pier.pid
logfile=$data_root/pier.log
remote=${PIER_REMOTE-tcp://0.0.0.0:7443}
restart=0
setup=1
for arg in "$@"; do
    case "$arg" in
        --restart|--restart-agent) restart=1 ;;
        --no-setup) setup=0 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "up.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "up.sh: pier mounts filesystems and runs runc: run as root (sudo $0)" >&2
    exit 1
fi

[ "$setup" = 1 ] && "$root/scripts/setup.sh"

pier=${PIER:-$root/.build/release/pier}
if [ ! -x "$pier" ]; then
    echo "up.sh: $pier is missing; run scripts/setup.sh (it builds it)" >&2
    exit 1
fi
export PIER_HOST=unix://$sock

# The pid in the pid file, if that process is still a `pier up`.
agent_pid() {
    local pid
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'pier up' || return 1
    echo "$pid"
}

if pid=$(agent_pid) && [ "$restart" = 1 ]; then
    echo "up: stopping pier up (pid $pid)"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "up: pier up (pid $pid) did not stop within 10 s; not starting a second one" >&2
        exit 1
    fi
    rm -f "$pidfile"
fi

if pid=$(agent_pid); then
    echo "up: reusing the running pier up (pid $pid)"
else
    mkdir -p "$data_root"
    echo "up: starting pier up (log $logfile)"
    listen=(--listen "unix://$sock")
    [ -n "$remote" ] && listen+=(--listen "$remote")
    # setsid: pier outlives this script and its terminal.
    setsid "$pier" up --data-root "$data_root" "${listen[@]}" </dev/null >>"$logfile" 2>&1 &
    pid=$!
    echo "$pid" > "$pidfile"
fi

for _ in $(seq 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "up: pier up (pid $pid) exited; the end of $logfile:" >&2
        tail -n 20 "$logfile" >&2
        exit 1
    fi
    [ -S "$sock" ] && "$pier" info >/dev/null 2>&1 && break
    sleep 0.1
done
if ! "$pier" info >/dev/null 2>&1; then
    echo "up: pier up (pid $pid) does not answer on $sock after 30 s; see $logfile" >&2
    exit 1
fi
echo "up: pier up answers on $sock (pid $pid)"

# The sample: busybox's httpd serving one page, in an image of one static binary and the page.
# Same inputs, same digest: a second run re-tags the same image instead of adding one.
"$pier" image build --tag sample/hello:1 --from scratch \
    --add /bin/busybox:/bin/busybox --add "$root/scripts/sample/index.html:/index.html" \
    --entrypoint '["/bin/busybox"]' --cmd '["httpd","-f","-p","8080"]'

# The sample stack: a service from a compose file, placed on this gateway's own node.
"$pier" stack deploy -c "$root/examples/hello-stack.yml" hello

# timeout(1), not wget -T: busybox 1.35's wget crashes with -T.
for _ in $(seq 60); do
    if page=$(timeout 3 busybox wget -q -O - http://127.0.0.1:8080/ 2>/dev/null); then
        "$pier" service ls
        "$pier" service ps hello_web
        echo "up: http://127.0.0.1:8080/ answers: $page"
        exit 0
    fi
    sleep 0.25
done
"$pier" service ps hello_web >&2 || true
echo "up: http://127.0.0.1:8080/ does not answer after 15 s; see $logfile" >&2
exit 1
