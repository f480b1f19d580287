#!/usr/bin/env bash
#
# deploy/local/stack.sh — run the whole workflow engine locally.
#
#   deploy/local/stack.sh up       install deps, build, start everything, run the hello example
#   deploy/local/stack.sh down     stop everything this script started
#   deploy/local/stack.sh status   show what is running
#
# Everything listens on 127.0.0.1 only. State, logs and pid files live under
# WF_HOME:
#   $WF_HOME/pg          PostgreSQL cluster (log: pg/postgresql.log)
#   $WF_HOME/redis       Redis data (log: redis/redis.log)
#   $WF_HOME/logs        service logs (wf-api.log, wf-engine.log, ...)
#   $WF_HOME/syslog      wf-syslog's store of request logs (docs/logging.md)
#   $WF_HOME/run         service pid files
#   $WF_HOME/stack.env   `source` it to get WF_API_URL, WF_DATABASE_URL, WF_REDIS_URL
#   $WF_HOME/config.yaml optional; passed to the services as --config when present
#
# Environment (defaults in brackets):
#   WF_HOME [<repo>/.wf]   WF_API_PORT [8470]   WF_PG_PORT [55432]
#   WF_REDIS_PORT [56379]  WF_TEMPLATES_DIR [<repo>/templates]
#   WF_BUILD_DIR [<repo>/build]
#   WF_SYSLOG_TCP_PORT, WF_SYSLOG_UDP_PORT [5514]   WF_SYSLOG_HTTP_PORT [8471]
#   WF_SKIP_DEPS=1         do not check/install system packages on `up`
#   WF_SKIP_BUILD=1        do not (re)build on `up`; use the binaries in WF_BUILD_DIR
#
# Exit status of `status`: 0 when every component runs and the API is ready, 3 otherwise.

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${SCRIPT_DIR}/lib.sh"

REPO="$(wf_repo_root)"

WF_HOME="${WF_HOME:-${REPO}/.wf}"
WF_API_PORT="${WF_API_PORT:-8470}"
WF_PG_PORT="${WF_PG_PORT:-55432}"
WF_REDIS_PORT="${WF_REDIS_PORT:-56379}"
WF_TEMPLATES_DIR="${WF_TEMPLATES_DIR:-${REPO}/templates}"
WF_BUILD_DIR="${WF_BUILD_DIR:-${REPO}/build}"
WF_SYSLOG_TCP_PORT="${WF_SYSLOG_TCP_PORT:-5514}"
WF_SYSLOG_UDP_PORT="${WF_SYSLOG_UDP_PORT:-5514}"
WF_SYSLOG_HTTP_PORT="${WF_SYSLOG_HTTP_PORT:-8471}"

# Make WF_HOME absolute: the pid files and config paths handed to the
# services must not depend on the current directory.
mkdir -p "${WF_HOME}"
WF_HOME="$(cd "${WF_HOME}" && pwd)"

PG_DIR="${WF_HOME}/pg"
REDIS_DIR="${WF_HOME}/redis"
LOG_DIR="${WF_HOME}/logs"
RUN_DIR="${WF_HOME}/run"
STACK_ENV="${WF_HOME}/stack.env"
TOKENS_FILE="${WF_HOME}/tokens.yaml"
ADMIN_TOKEN_FILE="${WF_HOME}/admin.token"
CALLBACK_KEY_FILE="${WF_HOME}/callback.key"
CONFIG_FILE="${WF_HOME}/config.yaml"

API_URL="http://127.0.0.1:${WF_API_PORT}"
DATABASE_URL="postgresql://postgres@127.0.0.1:${WF_PG_PORT}/wf"
REDIS_URL="redis://127.0.0.1:${WF_REDIS_PORT}"

# Services: name -> binary (relative to the build dir), in start order
# (wf-syslog first, so the others can ship their log lines to it from the
# start; stopped last). wf-syslog is optional: it is managed only when its
# binary exists.
SERVICE_NAMES=(wf-syslog wf-api wf-engine)
declare -A SERVICE_BIN=(
  [wf-api]="services/api/wf-api"
  [wf-engine]="services/engine/wf-engine"
  [wf-syslog]="services/syslog/wf-syslog"
)
declare -A SERVICE_OPTIONAL=([wf-syslog]=1)

# Seconds to wait for the API to become ready and for the example to finish.
READY_TIMEOUT="${WF_READY_TIMEOUT:-90}"
EXAMPLE_TIMEOUT=60

usage() {
  sed -n '3,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

# ---------------------------------------------------------------------------
# Step tracking: on any failure, say which step failed and where the logs are.
# ---------------------------------------------------------------------------

CURRENT_STEP=""

step() {
  CURRENT_STEP="$*"
  wf_log "== ${CURRENT_STEP}"
}

on_exit() {
  local rc=$?
  if [[ ${rc} -ne 0 && -n "${CURRENT_STEP}" ]]; then
    wf_error "step failed: ${CURRENT_STEP} (exit ${rc})"
    wf_error "logs: services ${LOG_DIR}/, PostgreSQL ${PG_DIR}/postgresql.log, Redis ${REDIS_DIR}/redis.log"
    wf_error "stop whatever was started with: ${SCRIPT_DIR}/stack.sh down"
  fi
  exit "${rc}"
}

# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------

service_bin() { printf '%s/%s\n' "${WF_BUILD_DIR}" "${SERVICE_BIN[$1]}"; }
service_pidfile() { printf '%s/%s.pid\n' "${RUN_DIR}" "$1"; }
service_log() { printf '%s/%s.log\n' "${LOG_DIR}" "$1"; }

# True if the service should be managed: mandatory ones always, optional ones
# when their binary exists or a pid file is left from an earlier run.
service_enabled() {
  local name="$1"
  [[ -z "${SERVICE_OPTIONAL[${name}]:-}" ]] ||
    [[ -x "$(service_bin "${name}")" ]] || [[ -e "$(service_pidfile "${name}")" ]]
}

# Print the pid of the running service, fail if it is not running.
service_pid() {
  wf_pidfile_pid "$(service_pidfile "$1")" "$1"
}

start_service() {
  local name="$1" bin log
  bin="$(service_bin "${name}")"
  log="$(service_log "${name}")"
  if service_pid "${name}" >/dev/null; then
    wf_log "${name} already running (pid $(service_pid "${name}"))"
    return 0
  fi
  [[ -x "${bin}" ]] || wf_die "${name} binary not found: ${bin}" || return 1

  local -a args=() shipping=()
  # Log lines go to wf-syslog too when it is part of the stack.
  if [[ "${name}" != wf-syslog && -x "$(service_bin wf-syslog)" ]]; then
    shipping=(WF_LOGGING_SYSLOG_URL="tcp://127.0.0.1:${WF_SYSLOG_TCP_PORT}"
      WF_API_LOGS_URL="http://127.0.0.1:${WF_SYSLOG_HTTP_PORT}")
  fi
  if [[ -f "${CONFIG_FILE}" ]]; then
    args+=(--config "${CONFIG_FILE}")
  fi
  {
    echo
    echo "=== $(date '+%Y-%m-%d %H:%M:%S') starting ${bin} ${args[*]}"
  } >>"${log}"
  wf_start_bg "$(service_pidfile "${name}")" "${log}" \
    env \
    WF_DATABASE_URL="${DATABASE_URL}" \
    WF_REDIS_URL="${REDIS_URL}" \
    WF_API_HOST=127.0.0.1 \
    WF_API_PORT="${WF_API_PORT}" \
    WF_TEMPLATES_DIR="${WF_TEMPLATES_DIR}" \
    WF_API_TOKENS_FILE="${TOKENS_FILE}" \
    WF_CALLBACKS_SIGNING_KEY_FILE="${CALLBACK_KEY_FILE}" \
    WF_SYSLOG_DIR="${WF_HOME}/syslog" \
    WF_SYSLOG_BIND=127.0.0.1 \
    WF_SYSLOG_TCP_PORT="${WF_SYSLOG_TCP_PORT}" \
    WF_SYSLOG_UDP_PORT="${WF_SYSLOG_UDP_PORT}" \
    WF_SYSLOG_HTTP_PORT="${WF_SYSLOG_HTTP_PORT}" \
    "${shipping[@]}" \
    "${bin}" "${args[@]}" || return 1
  wf_log "${name} started (pid $(cat "$(service_pidfile "${name}")"), log: ${log})"
}

stop_service() {
  local name="$1" pidfile pid
  pidfile="$(service_pidfile "${name}")"
  if pid="$(service_pid "${name}")"; then
    wf_log "stopping ${name} (pid ${pid})"
  fi
  wf_stop_pidfile "${pidfile}" "${name}"
}

# Last lines of every log, for diagnosing a failed start or request.
show_log_tails() {
  local f
  for f in "${LOG_DIR}"/*.log "${PG_DIR}/postgresql.log" "${REDIS_DIR}/redis.log"; do
    [[ -f "${f}" ]] || continue
    printf '\n----- %s (last 40 lines) -----\n' "${f}" >&2
    tail -n 40 "${f}" >&2 || true
  done
}

# ---------------------------------------------------------------------------
# Status
# ---------------------------------------------------------------------------

# True if every component (and every enabled service) is running.
all_running() {
  local name
  wf_pg_running "${PG_DIR}" || return 1
  wf_redis_running "${REDIS_DIR}" || return 1
  for name in "${SERVICE_NAMES[@]}"; do
    service_enabled "${name}" || continue
    service_pid "${name}" >/dev/null || return 1
  done
}

readyz_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "${API_URL}/readyz" 2>/dev/null || true
}

cmd_status() {
  local ok=0 name pid code
  printf '%-10s %s\n' "WF_HOME" "${WF_HOME}"
  if wf_pg_running "${PG_DIR}"; then
    pid="$(head -n 1 "${PG_DIR}/postmaster.pid")"
    printf '%-10s running (pid %s) 127.0.0.1:%s  log: %s\n' postgres "${pid}" \
      "$(sed -n 4p "${PG_DIR}/postmaster.pid")" "${PG_DIR}/postgresql.log"
  else
    printf '%-10s stopped\n' postgres
    ok=3
  fi
  if pid="$(wf_pidfile_pid "${REDIS_DIR}/redis.pid" redis-server)"; then
    printf '%-10s running (pid %s) 127.0.0.1:%s  log: %s\n' redis "${pid}" \
      "$(awk '$1 == "port" {print $2}' "${REDIS_DIR}/redis.conf")" "${REDIS_DIR}/redis.log"
  else
    printf '%-10s stopped\n' redis
    ok=3
  fi
  for name in "${SERVICE_NAMES[@]}"; do
    service_enabled "${name}" || continue
    if pid="$(service_pid "${name}")"; then
      printf '%-10s running (pid %s)  log: %s\n' "${name}" "${pid}" "$(service_log "${name}")"
    else
      printf '%-10s stopped\n' "${name}"
      ok=3
    fi
  done
  code="$(readyz_code)"
  if [[ "${code}" == 200 ]]; then
    printf '%-10s ready (HTTP 200) %s/readyz\n' api "${API_URL}"
  else
    # curl reports 000 when nothing answered.
    [[ "${code}" =~ ^[1-9] ]] && code="HTTP ${code}" || code="no answer"
    printf '%-10s not ready (%s) %s/readyz\n' api "${code}" "${API_URL}"
    ok=3
  fi
  return "${ok}"
}

# ---------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------

# On the first `up`: an admin API token (kept in admin.token, its hash in tokens.yaml)
# and the key that signs request callbacks. Later runs keep both.
ensure_secrets() {
  local token
  (
    umask 077
    if [[ ! -s "${TOKENS_FILE}" || ! -s "${ADMIN_TOKEN_FILE}" ]]; then
      token="$(openssl rand -hex 24)"
      printf '%s\n' "${token}" >"${ADMIN_TOKEN_FILE}"
      {
        echo "# API tokens: name, role (reader | operator | admin), sha256 of the token."
        echo "# Add one: t=\$(openssl rand -hex 24); printf %s \"\$t\" | sha256sum"
        echo "tokens:"
        echo "  - name: local-admin"
        echo "    role: admin"
        echo "    sha256: $(printf '%s' "${token}" | sha256sum | cut -d' ' -f1)"
      } >"${TOKENS_FILE}"
      wf_log "generated an admin API token (${ADMIN_TOKEN_FILE}, hash in ${TOKENS_FILE})"
    fi
    if [[ ! -s "${CALLBACK_KEY_FILE}" ]]; then
      openssl rand -hex 32 >"${CALLBACK_KEY_FILE}"
    fi
  )
}

admin_token() { tr -d '[:space:]' <"${ADMIN_TOKEN_FILE}"; }

write_stack_env() {
  (
    umask 077
    echo "# Local workflow engine stack (written by deploy/local/stack.sh up)."
    printf 'export WF_API_URL=%q\n' "${API_URL}"
    printf 'export WF_TOKEN=%q\n' "$(admin_token)"
    printf 'export WF_DATABASE_URL=%q\n' "${DATABASE_URL}"
    printf 'export WF_REDIS_URL=%q\n' "${REDIS_URL}"
  ) >"${STACK_ENV}"
}

# Submit the bundled `hello` example and wait for it to finish.
run_example() {
  local body code request_id status="" request="" deadline
  body="$(mktemp)"
  code="$(curl -sS -o "${body}" -w '%{http_code}' --max-time 10 \
    -X POST "${API_URL}/v1/requests" \
    -H "Authorization: Bearer $(admin_token)" \
    -H 'Content-Type: application/json' \
    -d '{"template":"hello","data":{"name":"world"}}')" || code="000"
  if [[ "${code}" != 2?? ]]; then
    wf_error "POST ${API_URL}/v1/requests answered HTTP ${code}: $(cat "${body}")"
    rm -f "${body}"
    return 1
  fi
  request_id="$(jq -r '.request_id // empty' "${body}" 2>/dev/null || true)"
  if [[ -z "${request_id}" ]]; then
    wf_error "no request_id in the answer: $(cat "${body}")"
    rm -f "${body}"
    return 1
  fi
  wf_log "submitted hello request ${request_id} (HTTP ${code}, trace $(jq -r '.trace_id // "-"' "${body}"))"
  rm -f "${body}"

  # Poll until the request reaches a terminal status.
  deadline=$((SECONDS + EXAMPLE_TIMEOUT))
  while ((SECONDS < deadline)); do
    request="$(curl -sS --max-time 5 -H "Authorization: Bearer $(admin_token)" \
      "${API_URL}/v1/requests/${request_id}" 2>/dev/null || true)"
    status="$(jq -r '.status // empty' <<<"${request}" 2>/dev/null || true)"
    case "${status}" in
      succeeded | failed | cancelled) break ;;
    esac
    sleep 0.5
  done

  echo
  echo "Request ${request_id}:"
  if jq . <<<"${request}" 2>/dev/null; then :; else echo "${request}"; fi
  echo
  echo "Summary: status=${status:-unknown}"
  jq -r '(.tasks // [])[] | "  task \(.name // .id // "?"): \(.status // "?")"' \
    <<<"${request}" 2>/dev/null || true
  jq -r 'if .outputs then "  outputs: \(.outputs | tojson)" else empty end' \
    <<<"${request}" 2>/dev/null || true

  case "${status}" in
    succeeded) return 0 ;;
    failed | cancelled) wf_error "the hello request ended with status ${status}" ;;
    *) wf_error "the hello request did not finish within ${EXAMPLE_TIMEOUT}s (last status: ${status:-unknown})" ;;
  esac
  return 1
}

print_usage_help() {
  cat <<EOF

The workflow engine is running at ${API_URL}

  source ${STACK_ENV}       # sets WF_API_URL and WF_TOKEN (an admin token)

  # submit a request and wait for it, with the command-line client
  ${WF_BUILD_DIR}/tools/wfctl/wfctl submit hello --data '{"name":"world"}' --wait
  # or over HTTP: every call but the health checks needs the token
  curl -sS -X POST "\$WF_API_URL/v1/requests" -H "Authorization: Bearer \$WF_TOKEN" \\
       -H 'Content-Type: application/json' -d '{"template":"hello","data":{"name":"world"}}' | jq .
  curl -sS -H "Authorization: Bearer \$WF_TOKEN" "\$WF_API_URL/v1/requests/<request_id>" | jq .
  # readiness
  curl -sS "\$WF_API_URL/readyz"

  Templates: ${WF_TEMPLATES_DIR}
  Logs:      ${LOG_DIR}/ (services), ${PG_DIR}/postgresql.log, ${REDIS_DIR}/redis.log
  Request logs: http://127.0.0.1:${WF_SYSLOG_HTTP_PORT}/v1/requests/<request_id>/logs
                (wf-syslog, store in ${WF_HOME}/syslog; syslog on 127.0.0.1:${WF_SYSLOG_TCP_PORT})
  Database:  psql ${DATABASE_URL}
  Status:    ${SCRIPT_DIR}/stack.sh status
  Stop:      ${SCRIPT_DIR}/stack.sh down
EOF
}

cmd_up() {
  if all_running; then
    wf_log "the stack is already up"
    cmd_status || true
    return 0
  fi

  trap on_exit EXIT

  if [[ -z "${WF_SKIP_DEPS:-}" ]]; then
    step "install system packages"
    wf_install_deps
  fi

  if [[ -z "${WF_SKIP_BUILD:-}" ]]; then
    step "build (${WF_BUILD_DIR})"
    wf_build "${WF_BUILD_DIR}"
  fi

  step "check service binaries"
  local name
  for name in "${SERVICE_NAMES[@]}"; do
    [[ -n "${SERVICE_OPTIONAL[${name}]:-}" ]] && continue
    [[ -x "$(service_bin "${name}")" ]] || wf_die "missing binary $(service_bin "${name}")"
  done
  if [[ ! -d "${WF_TEMPLATES_DIR}" ]]; then
    wf_warn "templates directory ${WF_TEMPLATES_DIR} does not exist"
  fi

  step "start PostgreSQL (127.0.0.1:${WF_PG_PORT})"
  wf_pg_start "${PG_DIR}" "${WF_PG_PORT}"

  step "start Redis (127.0.0.1:${WF_REDIS_PORT})"
  wf_redis_start "${REDIS_DIR}" "${WF_REDIS_PORT}"

  mkdir -p "${LOG_DIR}" "${RUN_DIR}"
  ensure_secrets
  if ! service_pid wf-api >/dev/null && wf_port_in_use "${WF_API_PORT}"; then
    step "check API port"
    wf_die "port ${WF_API_PORT} on 127.0.0.1 is already in use by another program; set WF_API_PORT"
  fi
  local -a pidfiles=()
  for name in "${SERVICE_NAMES[@]}"; do
    [[ -x "$(service_bin "${name}")" ]] || continue
    step "start ${name}"
    start_service "${name}"
    pidfiles+=("$(service_pidfile "${name}")")
  done

  write_stack_env

  step "wait for ${API_URL}/readyz"
  if ! wf_wait_http "${API_URL}/readyz" "${READY_TIMEOUT}" "${pidfiles[@]}"; then
    show_log_tails
    return 1
  fi
  wf_log "API is ready at ${API_URL}"

  step "run the hello example"
  if ! run_example; then
    show_log_tails
    wf_error "the stack is still running for inspection; stop it with: ${SCRIPT_DIR}/stack.sh down"
    return 1
  fi
  CURRENT_STEP=""

  print_usage_help
}

# ---------------------------------------------------------------------------
# down
# ---------------------------------------------------------------------------

cmd_down() {
  local rc=0 name i
  # Services first (reverse start order), then Redis, then PostgreSQL.
  for ((i = ${#SERVICE_NAMES[@]} - 1; i >= 0; i--)); do
    name="${SERVICE_NAMES[i]}"
    stop_service "${name}" || rc=1
  done
  wf_redis_stop "${REDIS_DIR}" || rc=1
  wf_pg_stop "${PG_DIR}" || rc=1
  if [[ ${rc} -eq 0 ]]; then
    wf_log "the stack is down"
  else
    wf_error "some components could not be stopped; see the messages above"
  fi
  return "${rc}"
}

main() {
  [[ $# -eq 1 ]] || usage
  case "$1" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    -h | --help | help) usage 0 ;;
    *) usage ;;
  esac
}

main "$@"
