#!/usr/bin/env bash
# Private Docker daemon for Compute rentals (and their tests): its own socket, data root, exec root and pid
# file, so it never touches (or is touched by) a system dockerd.
#
#   tools/docker/dockerd.sh start   # starts it if not running, waits until it answers, prints DOCKER_HOST=…
#   tools/docker/dockerd.sh env     # prints DOCKER_HOST=… (exit 1 if not running)
#   tools/docker/dockerd.sh status  # exit 0 when running and answering
#   tools/docker/dockerd.sh stop    # stops exactly the dockerd this script started (and its containers)
#
# Installs nothing: needs Debian's `docker.io` (dockerd, containerd, runc, docker-init, docker-proxy) and root.
#
# Flags and why (measured on the sandbox VM: kernel 6.18, cgroup v1, iptables-nft works):
#   --bridge=none        no default docker0: sessions get their own user-defined bridge networks (see
#                        node/src/rentals/containers.ts), and we never fight a system dockerd over docker0.
#   --default-address-pool 172.30.0.0/15 size 24
#                        one /24 per session network, 512 of them (the stock pools give only ~30 /16s).
#   --iptables=true      kept on: Docker's DOCKER-ISOLATION chains are what stop one session's bridge from
#                        reaching another's, and published ports need its DNAT/docker-proxy.
#   --ip=127.0.0.1       a published port without an explicit host IP binds loopback, never 0.0.0.0.
#   --log-opt max-size   bounded json-file logs per container.
#   --no-new-privileges  daemon-wide default (containers.ts also sets it per container).
set -euo pipefail

RUN_DIR="${COMPUTE_DOCKER_RUN_DIR:-/run/compute-docker}"
DATA_ROOT="${COMPUTE_DOCKER_DATA_ROOT:-/var/lib/compute-docker}"
SOCK="$RUN_DIR/docker.sock"
PIDFILE="$RUN_DIR/dockerd.pid"
LOG="$RUN_DIR/dockerd.log"
ADDR_POOL="${COMPUTE_DOCKER_ADDRESS_POOL:-base=172.30.0.0/15,size=24}"
export DOCKER_HOST="unix://$SOCK"

die() { echo "dockerd.sh: $*" >&2; exit 1; }

running_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Make sure the pid is still a dockerd (pid reuse after a reboot of the VM).
  [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "dockerd" ] || return 1
  echo "$pid"
}

answers() {
  [ -S "$SOCK" ] || return 1
  # curl may be absent; docker CLI is part of docker.io.
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

cmd_start() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  command -v dockerd >/dev/null || die "dockerd not found: apt-get install -y docker.io"
  if running_pid >/dev/null; then
    wait_ready
    echo "DOCKER_HOST=$DOCKER_HOST"
    return 0
  fi
  mkdir -p "$RUN_DIR" "$DATA_ROOT"
  chmod 0711 "$RUN_DIR"
  rm -f "$PIDFILE" "$SOCK"
  launch
  if ! wait_ready; then
    # Docker 20.10 panics at start-up on a network store left half-written by a daemon killed while creating a
    # network (libnetwork reservePools: index out of range). Session networks are re-created on demand, so
    # set the store aside and start once more rather than leave rentals down.
    if grep -q "reservePools" "$LOG" 2>/dev/null && [ -f "$DATA_ROOT/network/files/local-kv.db" ]; then
      local aside
      aside="$DATA_ROOT/network/files/local-kv.db.broken-$(date +%s)"
      mv "$DATA_ROOT/network/files/local-kv.db" "$aside"
      echo "dockerd.sh: dockerd crashed restoring its network store; moved it to $aside and restarting" >&2
      rm -f "$PIDFILE" "$SOCK"
      launch
      wait_ready && { echo "DOCKER_HOST=$DOCKER_HOST"; return 0; }
    fi
    tail -n 30 "$LOG" >&2
    die "dockerd did not become ready (log: $LOG)"
  fi
  echo "DOCKER_HOST=$DOCKER_HOST"
}

launch() {
  # setsid: the daemon must outlive the shell (and the vitest worker) that started it.
  setsid dockerd \
    --host "$DOCKER_HOST" \
    --data-root "$DATA_ROOT" \
    --exec-root "$RUN_DIR/exec" \
    --pidfile "$PIDFILE" \
    --bridge=none \
    --iptables=true \
    --ip=127.0.0.1 \
    --default-address-pool "$ADDR_POOL" \
    --log-driver=json-file --log-opt max-size=10m --log-opt max-file=2 \
    --no-new-privileges \
    >"$LOG" 2>&1 </dev/null 9>&- &
  LAUNCHED=$!
}

wait_ready() {
  local i
  for i in $(seq 1 150); do
    if answers; then return 0; fi
    # Gone already (a crash at start-up): no point waiting out the 30 s.
    if [ -n "${LAUNCHED:-}" ] && ! kill -0 "$LAUNCHED" 2>/dev/null; then return 1; fi
    sleep 0.2
  done
  return 1
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PIDFILE"
    echo "dockerd.sh: not running"
    return 0
  fi
  # SIGTERM: dockerd stops its containers and the containerd it spawned under $RUN_DIR/exec, then exits.
  kill -TERM "$pid"
  local i
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "dockerd.sh: dockerd $pid ignored SIGTERM for 30 s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE" "$SOCK"
  echo "dockerd.sh: stopped $pid"
}

# One start/stop at a time (parallel test files call start together).
lock() {
  mkdir -p "$(dirname "$RUN_DIR")"
  exec 9>"$RUN_DIR.lock"
  flock 9
}

case "${1:-}" in
  start) lock; cmd_start ;;
  stop) lock; cmd_stop ;;
  env) running_pid >/dev/null && answers || die "not running (tools/docker/dockerd.sh start)"; echo "DOCKER_HOST=$DOCKER_HOST" ;;
  status) running_pid >/dev/null && answers ;;
  *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
