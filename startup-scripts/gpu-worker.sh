#!/usr/bin/env bash
# Start-up script of a writeup GPU worker, for an autoscaled instance group
# (instance metadata "startup-script" or cloud-init user data). Runs on every
# boot and is idempotent: it installs git and Ansible, pulls the repository
# and applies the microservice role to this host (ansible-pull), then waits
# until every route it serves is healthy. Logged to $WRITEUP_LOG; network
# steps retry with exponential backoff.
#
# Self-contained on purpose (it is pasted into instance metadata as one file).
# Settings: environment, /etc/writeup/startup.env (key=value, written by the
# instance template), or key=value lines served at $WRITEUP_SETTINGS_URL.
#   WRITEUP_GIT_REPO      repository to deploy (required)
#   WRITEUP_VERSION       branch, tag or commit (main)
#   WRITEUP_INSTANCES     registry instance ids this worker runs, space-separated (required)
#   WRITEUP_GPU           1 = install the NVIDIA driver (1)
#   WRITEUP_ADDRESS       address the instances listen on (this host's first address)
#   WRITEUP_APP_DIR, WRITEUP_VENV, WRITEUP_BOOTSTRAP_VENV   where code, app venv and Ansible go
#   WRITEUP_EXTRA_VARS    more Ansible extra vars (JSON)
#   WRITEUP_RENDER_DIR    render the files there instead of installing (a dry run)

# --- shared header: the same in backend.sh and gpu-worker.sh but for the log tag
# (each script stays one pasteable file; tests/ansible/test_startup_scripts.py
# fails when the copies drift apart) ---
set -euo pipefail

WRITEUP_LOG=${WRITEUP_LOG:-/var/log/writeup-startup.log}
mkdir -p "$(dirname "$WRITEUP_LOG")"
exec > >(while IFS= read -r line; do printf '%s gpu-worker: %s\n' "$(date -u +%FT%TZ)" "$line"; done | tee -a "$WRITEUP_LOG") 2>&1

# One run at a time: a reboot during a slow first run must not start a second.
exec 9>"${WRITEUP_LOCK:-/run/writeup-startup.lock}"
flock -n 9 || { echo "another start-up run holds the lock; leaving it to finish"; exit 0; }

retry() {
  local attempt=1 max=${WRITEUP_RETRIES:-6} delay=${WRITEUP_RETRY_DELAY:-5}
  until "$@"; do
    if ((attempt >= max)); then echo "giving up after $attempt attempts: $*"; return 1; fi
    echo "attempt $attempt failed, retrying in ${delay}s: $*"
    sleep "$delay"
    attempt=$((attempt + 1)) delay=$((delay * 2))
  done
}

load_settings() {
  local file=${WRITEUP_STARTUP_ENV:-/etc/writeup/startup.env}
  if [ -n "${WRITEUP_SETTINGS_URL:-}" ]; then
    mkdir -p "$(dirname "$file")"
    retry curl -fsS --max-time 10 ${WRITEUP_SETTINGS_HEADER:+-H "$WRITEUP_SETTINGS_HEADER"} \
      -o "$file.new" "$WRITEUP_SETTINGS_URL"
    mv "$file.new" "$file"
  fi
  if [ -f "$file" ]; then
    set -a
    # shellcheck disable=SC1090  # the instance template writes it
    . "$file"
    set +a
  fi
}
# --- end of shared header ---

load_settings
: "${WRITEUP_GIT_REPO:?set WRITEUP_GIT_REPO to the repository to deploy}"
: "${WRITEUP_INSTANCES:?set WRITEUP_INSTANCES to the registry instance ids this worker runs}"
WRITEUP_VERSION=${WRITEUP_VERSION:-main}
WRITEUP_GPU=${WRITEUP_GPU:-1}
WRITEUP_APP_DIR=${WRITEUP_APP_DIR:-/opt/writeup/app}
WRITEUP_BOOTSTRAP_VENV=${WRITEUP_BOOTSTRAP_VENV:-/opt/writeup/bootstrap}
WRITEUP_VENV=${WRITEUP_VENV:-/opt/writeup/venv}
WRITEUP_ADDRESS=${WRITEUP_ADDRESS:-$(hostname -I | awk '{print $1}')}
export WRITEUP_VERSION WRITEUP_GPU WRITEUP_APP_DIR WRITEUP_VENV WRITEUP_ADDRESS
render_only=false
[ -n "${WRITEUP_RENDER_DIR:-}" ] && render_only=true
echo "version $WRITEUP_VERSION, instances: $WRITEUP_INSTANCES, address $WRITEUP_ADDRESS, render only: $render_only"

if [ "$render_only" = false ]; then
  export DEBIAN_FRONTEND=noninteractive
  retry apt-get update -qq
  retry apt-get install -y -qq git python3-venv curl >/dev/null
fi
if [ ! -x "$WRITEUP_BOOTSTRAP_VENV/bin/ansible-pull" ]; then
  python3 -m venv "$WRITEUP_BOOTSTRAP_VENV"
  retry "$WRITEUP_BOOTSTRAP_VENV/bin/pip" install -q "ansible-core>=2.17,<2.20"
fi

instances_json=$(printf '%s\n' "$WRITEUP_INSTANCES" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')
extra=$(python3 - "$instances_json" <<PY
import json, os, sys
extra = {
    "microservice_instances": json.loads(sys.argv[1]),
    "microservice_gpu": os.environ["WRITEUP_GPU"] == "1",
    "writeup_address": os.environ["WRITEUP_ADDRESS"],
    "writeup_home": os.environ["WRITEUP_APP_DIR"],
    "writeup_venv": os.environ["WRITEUP_VENV"],
    "writeup_git_repo": os.environ["WRITEUP_GIT_REPO"],
    "writeup_version": os.environ["WRITEUP_VERSION"],
    "writeup_registry_file": os.environ["WRITEUP_APP_DIR"] + "/config/models.yaml",
}
if os.environ.get("WRITEUP_RENDER_DIR"):
    extra.update(writeup_render_only=True, writeup_render_dir=os.environ["WRITEUP_RENDER_DIR"], ansible_become=False)
extra.update(json.loads(os.environ.get("WRITEUP_EXTRA_VARS") or "{}"))
print(json.dumps(extra))
PY
)

# ansible-pull clones (or updates) the repository and applies the role here;
# a run with nothing new to do changes nothing.
retry "$WRITEUP_BOOTSTRAP_VENV/bin/ansible-pull" -U "$WRITEUP_GIT_REPO" -C "$WRITEUP_VERSION" \
  -d "$WRITEUP_APP_DIR" -i localhost, -e "$extra" ansible/local-worker.yml

if [ "$render_only" = true ]; then
  echo "rendered into $WRITEUP_RENDER_DIR"
  exit 0
fi

# Healthy means every route of every instance answers 200: only then does the
# load balancer's health check put this worker into rotation anyway, but the
# instance group's own health check and the log should say so too.
checks=$(cd "$WRITEUP_APP_DIR" && "$WRITEUP_VENV/bin/python" - "$instances_json" <<'PY'
import json, sys
from contract.registry import load
reg = load("config/models.yaml")
for iid in json.loads(sys.argv[1]):
    inst = reg.instance(iid)
    for route in inst.routes:
        print(f"{inst.port}/{route}")
PY
)
for check in $checks; do
  url="http://$WRITEUP_ADDRESS:${check%%/*}/${check#*/}/health"
  WRITEUP_RETRIES=${WRITEUP_HEALTH_RETRIES:-10} retry curl -fsS --max-time 10 -o /dev/null "$url"
  echo "healthy: $url"
done
echo "worker ready"
