#!/bin/sh
# Start9 entrypoint: prepares the environment from the data volume, then execs its arguments
# (so the server is the process that receives the container's signals).
#
# Reads:   CRM_DATA_DIR (default /data), CRM_GMAIL_WORKSPACE_DOMAIN (set by the package from
#          its config), CRM_GMAIL_SYNC_INTERVAL_MIN, CRM_HOST.
# Exports: CRM_DATA_DIR, CRM_HOST (0.0.0.0 unless set) and, when a usable service-account key
#          sits at $CRM_DATA_DIR/secrets/gmail-service-account.json and a domain is known,
#          CRM_GMAIL_INTEGRATION_ENABLED=true, CRM_GMAIL_AUTH_METHOD=dwd, CRM_GMAIL_SA_KEY_PATH,
#          CRM_GMAIL_WORKSPACE_DOMAIN and CRM_GMAIL_SYNC_INTERVAL_MIN (180 unless set).
# Logs:    one "Gmail integration: ..." line on stderr, so stdout belongs to the exec'd command
#          (`CRM_DATA_DIR=$tmp sh docker_entrypoint.sh env` prints only the environment).
# The key's contents are never printed: the JSON check runs with its output discarded, because
# JSON.parse error messages quote the text they failed on.
set -eu

log() {
  printf '%s\n' "$*" >&2
}

if [ "$#" -eq 0 ]; then
  log "docker_entrypoint.sh: no command given (usage: docker_entrypoint.sh <command> [args...])"
  exit 64
fi

CRM_DATA_DIR="${CRM_DATA_DIR:-/data}"
export CRM_DATA_DIR
CRM_HOST="${CRM_HOST:-0.0.0.0}"
export CRM_HOST

secrets_dir="$CRM_DATA_DIR/secrets"
mkdir -p "$secrets_dir"
chmod 700 "$secrets_dir"

key="$secrets_dir/gmail-service-account.json"

# Prints nothing and succeeds when the key is usable; otherwise prints why it is not.
key_problem() {
  if [ ! -e "$key" ] && [ ! -L "$key" ]; then
    printf 'no key at %s' "$key"
    return 0
  fi
  if [ ! -f "$key" ]; then
    printf 'key at %s is not a regular file' "$key"
    return 0
  fi
  if [ ! -r "$key" ]; then
    printf 'key at %s is not readable' "$key"
    return 0
  fi
  # Tightened before it is parsed: even a broken key may hold a real private key.
  if ! chmod 600 "$key" 2>/dev/null; then
    printf 'cannot restrict key at %s to mode 600' "$key"
    return 0
  fi
  if ! command -v node >/dev/null 2>&1; then
    printf 'cannot check key at %s: node not found' "$key"
    return 0
  fi
  json_status=0
  node -e '
    let value;
    try { value = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); } catch { process.exit(2); }
    process.exit(value !== null && typeof value === "object" && !Array.isArray(value) ? 0 : 3);
  ' "$key" >/dev/null 2>&1 || json_status=$?
  case "$json_status" in
    0) ;;
    3) printf 'key at %s is JSON but not an object' "$key"; return 0 ;;
    *) printf 'key at %s is not valid JSON' "$key"; return 0 ;;
  esac
  domain=$(printf '%s' "${CRM_GMAIL_WORKSPACE_DOMAIN:-}" | tr -d '[:space:]')
  if [ -z "$domain" ]; then
    printf 'no workspace domain'
    return 0
  fi
  return 0
}

problem=$(key_problem)

if [ -z "$problem" ]; then
  CRM_GMAIL_INTEGRATION_ENABLED=true
  CRM_GMAIL_AUTH_METHOD=dwd
  CRM_GMAIL_SA_KEY_PATH="$key"
  CRM_GMAIL_SYNC_INTERVAL_MIN="${CRM_GMAIL_SYNC_INTERVAL_MIN:-180}"
  export CRM_GMAIL_INTEGRATION_ENABLED CRM_GMAIL_AUTH_METHOD CRM_GMAIL_SA_KEY_PATH \
    CRM_GMAIL_WORKSPACE_DOMAIN CRM_GMAIL_SYNC_INTERVAL_MIN
  log "Gmail integration: ENABLED (key at $key)"
else
  # Whatever the surroundings said, the server must start without Gmail.
  unset CRM_GMAIL_INTEGRATION_ENABLED
  log "Gmail integration: DISABLED ($problem)"
fi

exec "$@"
