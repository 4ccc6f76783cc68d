#!/usr/bin/env bash
# Start-up script of a writeup backend host, for an autoscaled instance group
# (instance metadata "startup-script" or cloud-init user data). Runs on every
# boot and is idempotent: it installs git and Ansible, pulls the repository
# and applies the frontend and backend roles to this host (ansible-pull), then
# waits until the backend answers. Logged to $WRITEUP_LOG; network steps retry
# with exponential backoff. Self-contained on purpose (it is pasted into
# instance metadata as one file).
#
# Settings: environment, /etc/writeup/startup.env (key=value, written by the
# instance template), or key=value lines served at $WRITEUP_SETTINGS_URL.
#   WRITEUP_GIT_REPO      repository to deploy (required)
#   WRITEUP_VERSION       branch, tag or commit (main)
#   WRITEUP_UPSTREAM      the load balancer's model frontend, e.g. http://10.0.0.10:8080 (required)
#   REDIS_URL             the shared Redis, e.g. redis://10.0.0.30:6379/0 (required)
#   DATABASE_URL          the shared database; several backends need PostgreSQL (required)
#   DJANGO_SECRET_KEY     the same on every backend host (required)
#   DJANGO_ALLOWED_HOSTS, DJANGO_CSRF_TRUSTED_ORIGINS   comma-separated
#   WRITEUP_PORT          port daphne listens on (8000)
#   WRITEUP_ADDRESS       address daphne listens on (this host's first address)
#   WRITEUP_APP_DIR, WRITEUP_VENV, WRITEUP_BOOTSTRAP_VENV   where code, app venv and Ansible go
#   WRITEUP_EXTRA_VARS    more Ansible extra vars (JSON)
#   WRITEUP_RENDER_DIR    render the files there instead of installing (a dry run)

# --- shared header: the same in backend.sh and gpu-worker.sh but for the log tag
# (each script stays one pasteable file; tests/ansible/test_startup_scripts.py
# fails when the copies drift apart) ---
set -euo pipefail

WRITEUP_LOG=${WRITEUP_LOG:-/var/log/writeup-startup.log}
mkdir -p "$(dirname "$WRITEUP_LOG")"
exec > >(while IFS= read -r line; do printf '%s backend: %s\n' "$(date -u +%FT%TZ)" "$line"; done | tee -a "$WRITEUP_LOG") 2>&1

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
: "${WRITEUP_UPSTREAM:?set WRITEUP_UPSTREAM to the load balancer (http://host:8080)}"
: "${REDIS_URL:?set REDIS_URL to the shared Redis}"
: "${DATABASE_URL:?set DATABASE_URL to the shared database}"
: "${DJANGO_SECRET_KEY:?set DJANGO_SECRET_KEY (the same on every backend host)}"
WRITEUP_VERSION=${WRITEUP_VERSION:-main}
WRITEUP_PORT=${WRITEUP_PORT:-8000}
WRITEUP_APP_DIR=${WRITEUP_APP_DIR:-/opt/writeup/app}
WRITEUP_BOOTSTRAP_VENV=${WRITEUP_BOOTSTRAP_VENV:-/opt/writeup/bootstrap}
WRITEUP_VENV=${WRITEUP_VENV:-/opt/writeup/venv}
WRITEUP_ADDRESS=${WRITEUP_ADDRESS:-$(hostname -I | awk '{print $1}')}
export WRITEUP_VERSION WRITEUP_PORT WRITEUP_APP_DIR WRITEUP_VENV WRITEUP_ADDRESS WRITEUP_UPSTREAM REDIS_URL \
  DATABASE_URL DJANGO_SECRET_KEY
render_only=false
[ -n "${WRITEUP_RENDER_DIR:-}" ] && render_only=true
echo "version $WRITEUP_VERSION, address $WRITEUP_ADDRESS:$WRITEUP_PORT, upstream $WRITEUP_UPSTREAM, render only: $render_only"

if [ "$render_only" = false ]; then
  export DEBIAN_FRONTEND=noninteractive
  retry apt-get update -qq
  retry apt-get install -y -qq git python3-venv curl >/dev/null
fi
if [ ! -x "$WRITEUP_BOOTSTRAP_VENV/bin/ansible-pull" ]; then
  python3 -m venv "$WRITEUP_BOOTSTRAP_VENV"
  retry "$WRITEUP_BOOTSTRAP_VENV/bin/pip" install -q "ansible-core>=2.17,<2.20"
fi

extra=$(python3 - <<'PY'
import json, os
env = os.environ
split = lambda v: [x.strip() for x in v.split(",") if x.strip()]
extra = {
    "writeup_address": env["WRITEUP_ADDRESS"],
    "writeup_home": env["WRITEUP_APP_DIR"],
    "writeup_venv": env["WRITEUP_VENV"],
    "writeup_git_repo": env["WRITEUP_GIT_REPO"],
    "writeup_version": env["WRITEUP_VERSION"],
    "writeup_registry_file": env["WRITEUP_APP_DIR"] + "/config/models.yaml",
    "backend_port": int(env["WRITEUP_PORT"]),
    "backend_upstream": env["WRITEUP_UPSTREAM"],
    "backend_redis_url": env["REDIS_URL"],
    "backend_database_url": env["DATABASE_URL"],
    "backend_secret_key": env["DJANGO_SECRET_KEY"],
    "backend_allowed_hosts": split(env.get("DJANGO_ALLOWED_HOSTS", "")) or [env["WRITEUP_ADDRESS"]],
    "backend_csrf_trusted_origins": split(env.get("DJANGO_CSRF_TRUSTED_ORIGINS", "")),
    # "" = pip's default index; a CPU-only torch index keeps backend hosts small.
    "common_torch_index_url": env.get("WRITEUP_TORCH_INDEX_URL", ""),
}
if env["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
    extra["common_extra_pip_packages"] = ["psycopg[binary]"]
if env.get("WRITEUP_RENDER_DIR"):
    extra.update(writeup_render_only=True, writeup_render_dir=env["WRITEUP_RENDER_DIR"], ansible_become=False)
extra.update(json.loads(env.get("WRITEUP_EXTRA_VARS") or "{}"))
print(json.dumps(extra))
PY
)

# ansible-pull clones (or updates) the repository and applies the roles here;
# a run with nothing new to do changes nothing.
retry "$WRITEUP_BOOTSTRAP_VENV/bin/ansible-pull" -U "$WRITEUP_GIT_REPO" -C "$WRITEUP_VERSION" \
  -d "$WRITEUP_APP_DIR" -i localhost, -e "$extra" ansible/local-backend.yml

if [ "$render_only" = true ]; then
  echo "rendered into $WRITEUP_RENDER_DIR"
  exit 0
fi

url="http://$WRITEUP_ADDRESS:$WRITEUP_PORT/api/session/"
WRITEUP_RETRIES=${WRITEUP_HEALTH_RETRIES:-10} retry curl -fsS --max-time 10 -o /dev/null "$url"
echo "backend ready: $url"
