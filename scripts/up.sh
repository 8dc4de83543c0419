#!/bin/bash
# Sets Pier up on this machine and runs a sample container: the single-gateway path.
#
#   1. scripts/setup.sh (Debian packages, `swift build -c release --static-swift-stdlib`)
#   2. `pier agent --data-root /var/lib/pier --listen unix:///var/lib/pier/pier.sock` in the background
#      (log /var/lib/pier/agent.log, pid file /var/lib/pier/agent.pid), reused if it already runs
#   3. builds sample/hello:1 (busybox httpd) with `pier image build`, runs it detached as `hello` with
#      --restart always and port 8080 published, replacing an earlier `hello`, and prints `pier ps`
#
#   scripts/up.sh                  as above
#   scripts/up.sh --restart-agent  stop the running agent (by its pid file) and start a new one
#   scripts/up.sh --no-setup       skip step 1 (packages and build already done)
# PIER (the binary) and PIER_DATA_ROOT override the defaults above.
# Needs root. Stop the agent with: kill "$(cat /var/lib/pier/agent.pid)"
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_root=${PIER_DATA_ROOT:-/var/lib/pier}
sock=$data_root/pier.sock
pidfile=$data_root/agent.pid
logfile=$data_root/agent.log
restart=0
setup=1
for arg in "$@"; do
    case "$arg" in
        --restart-agent) restart=1 ;;
        --no-setup) setup=0 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "up.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "up.sh: the agent mounts filesystems and runs runc: run as root (sudo $0)" >&2
    exit 1
fi

[ "$setup" = 1 ] && "$root/scripts/setup.sh"

pier=${PIER:-$root/.build/release/pier}
if [ ! -x "$pier" ]; then
    echo "up.sh: $pier is missing; run scripts/setup.sh (it builds it)" >&2
    exit 1
fi
export PIER_HOST=unix://$sock

# The pid in the pid file, if that process is still a `pier agent`.
agent_pid() {
    local pid
    pid=$(cat "$pidfile" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'pier agent' || return 1
    echo "$pid"
}

if pid=$(agent_pid) && [ "$restart" = 1 ]; then
    echo "up: stopping pier agent (pid $pid)"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "up: pier agent (pid $pid) did not stop within 10 s; not starting a second one" >&2
        exit 1
    fi
    rm -f "$pidfile"
fi

if pid=$(agent_pid); then
    echo "up: reusing the running pier agent (pid $pid)"
else
    mkdir -p "$data_root"
    echo "up: starting pier agent (log $logfile)"
    # setsid: the agent outlives this script and its terminal.
    setsid "$pier" agent --data-root "$data_root" --listen "unix://$sock" </dev/null >>"$logfile" 2>&1 &
    pid=$!
    echo "$pid" > "$pidfile"
fi

for _ in $(seq 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "up: pier agent (pid $pid) exited; the end of $logfile:" >&2
        tail -n 20 "$logfile" >&2
        exit 1
    fi
    [ -S "$sock" ] && "$pier" info >/dev/null 2>&1 && break
    sleep 0.1
done
if ! "$pier" info >/dev/null 2>&1; then
    echo "up: pier agent (pid $pid) does not answer on $sock after 30 s; see $logfile" >&2
    exit 1
fi
echo "up: pier agent answers on $sock (pid $pid)"

# The sample: busybox's httpd serving one page, in an image of one static binary and the page.
# Same inputs, same digest: a second run re-tags the same image instead of adding one.
"$pier" image build --tag sample/hello:1 --from scratch \
    --add /bin/busybox:/bin/busybox --add "$root/scripts/sample/index.html:/index.html" \
    --entrypoint '["/bin/busybox"]' --cmd '["httpd","-f","-p","8080"]'

if "$pier" inspect hello >/dev/null 2>&1; then
    echo "up: replacing the container hello"
    "$pier" rm -f hello >/dev/null
fi
"$pier" run -d --name hello --restart always -p 8080:8080 sample/hello:1

"$pier" ps
# timeout(1), not wget -T: busybox 1.35's wget crashes with -T.
for _ in $(seq 20); do
    if page=$(timeout 3 busybox wget -q -O - http://127.0.0.1:8080/ 2>/dev/null); then
        echo "up: http://127.0.0.1:8080/ answers: $page"
        exit 0
    fi
    sleep 0.25
done
echo "up: http://127.0.0.1:8080/ does not answer after 5 s; see pier logs hello and $logfile" >&2
exit 1
