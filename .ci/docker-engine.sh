# Sourced by .ci/run: a Docker engine and the compose v2 plugin for the
# end-to-end stack test (cmd/llmload/stack_engine_test.go, docs/stack.md).
#
# - docker.io from Debian; dockerd runs as root on a socket of its own, its
#   data-root and exec-root under a temp dir, with vfs storage (works on any
#   filesystem, no overlay mounts), no iptables rules and no default bridge:
#   it touches nothing of the host but the networks compose creates.
# - The compose plugin is built from its Go module (go install refuses it:
#   its go.mod has exclude directives) and kept in the CLI plugin directory,
#   so a second run on the same machine skips the ~4 minute build.
# Every step is bounded in time; stack_engine_stop (trapped on exit) stops
# dockerd and removes its directory.

COMPOSE_VERSION=v2.40.3
COMPOSE_PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose
# host.docker.internal inside the containers (see stack_engine_start).
STACK_ENGINE_GATEWAY=10.213.255.1

stack_engine_install() {
  local t0=$SECONDS
  if ! command -v dockerd >/dev/null 2>&1; then
    apt-get update -qq && timeout 300 apt-get install -y -qq docker.io >/dev/null
  fi
  # busybox-static: wget and sh in the test's Prometheus and vLLM stand-in images;
  # python3: the vLLM stand-in's healthcheck runs the rendered python3 one-liner.
  if [ ! -x /bin/busybox ] || [ ! -x /usr/bin/python3 ]; then
    apt-get update -qq && timeout 180 apt-get install -y -qq busybox-static python3 >/dev/null
  fi
  # nginx: the router stand-in image of a --replicas stack (Debian's binary, FROM scratch) and
  # `nginx -t` of the rendered router config. In bookworm nginx-light and nginx-core only add
  # modules to this package.
  # Only the binary is wanted: a policy-rc.d (Debian's "do not start
  # services" hook, kept if the machine has one) stops the package from
  # starting an nginx on port 80 of every interface.
  if [ ! -x /usr/sbin/nginx ]; then
    local made_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    apt-get update -qq && timeout 180 apt-get install -y -qq --no-install-recommends nginx >/dev/null
    if [ -n "$made_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
  fi
  if ! "$COMPOSE_PLUGIN" version 2>/dev/null | grep -q "$COMPOSE_VERSION"; then
    local dir
    dir=$(timeout 300 go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    mkdir -p "$(dirname "$COMPOSE_PLUGIN")"
    (cd "$dir" && GOFLAGS=-mod=mod timeout 900 go build -trimpath \
      -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
      -o "$COMPOSE_PLUGIN.tmp" ./cmd) && mv "$COMPOSE_PLUGIN.tmp" "$COMPOSE_PLUGIN"
  fi
  echo "stack engine: docker.io, busybox-static, python3, nginx and compose $COMPOSE_VERSION ready in $((SECONDS - t0))s"
}

stack_engine_start() {
  STACK_ENGINE_DIR=$(mktemp -d /tmp/llmload-dockerd.XXXXXX)
  dockerd --host "unix://$STACK_ENGINE_DIR/docker.sock" \
    --data-root "$STACK_ENGINE_DIR/data" --exec-root "$STACK_ENGINE_DIR/exec" \
    --pidfile "$STACK_ENGINE_DIR/dockerd.pid" \
    --storage-driver vfs --iptables=false --bridge=none \
    --host-gateway-ip "$STACK_ENGINE_GATEWAY" \
    >"$STACK_ENGINE_DIR/dockerd.log" 2>&1 &
  STACK_ENGINE_PID=$!
  export DOCKER_HOST="unix://$STACK_ENGINE_DIR/docker.sock"
  local i
  for i in $(seq 60); do
    if docker version >/dev/null 2>&1; then
      # Without a default bridge, host-gateway (the stack's
      # host.docker.internal) has no address: give it this network's gateway,
      # which the host holds, as it holds docker0's on a usual engine.
      docker network create --subnet "${STACK_ENGINE_GATEWAY%.*}.0/24" --gateway "$STACK_ENGINE_GATEWAY" llmload-host-gateway >/dev/null || return 1
      echo "stack engine: dockerd (pid $STACK_ENGINE_PID) on $DOCKER_HOST, host-gateway $STACK_ENGINE_GATEWAY"
      return 0
    fi
    sleep 0.5
  done
  echo "stack engine: dockerd did not answer within 30s:" >&2
  tail -20 "$STACK_ENGINE_DIR/dockerd.log" >&2
  return 1
}

stack_engine_stop() {
  [ -n "${STACK_ENGINE_PID:-}" ] || return 0
  # Its bridge interface would outlive dockerd on the host.
  timeout 20 docker network rm llmload-host-gateway >/dev/null 2>&1 || true
  kill "$STACK_ENGINE_PID" 2>/dev/null || true
  local i
  for i in $(seq 40); do
    kill -0 "$STACK_ENGINE_PID" 2>/dev/null || break
    sleep 0.5
  done
  kill -9 "$STACK_ENGINE_PID" 2>/dev/null || true
  # vfs layers are plain directories; containerd's shims may hold mounts.
  umount -R "$STACK_ENGINE_DIR/exec" 2>/dev/null || true
  rm -rf "$STACK_ENGINE_DIR"
  STACK_ENGINE_PID=
}
