#!/usr/bin/env bash
#
# tests/soak/soak.sh — crash-recovery soak test (run by hand; not part of CI).
#
#   tests/soak/soak.sh [N_REQUESTS=1000] [DURATION_S=300]
#
# Starts a throw-away stack under a mktemp dir (/tmp/wf-soak.XXXXXX): PostgreSQL and
# Redis on free ports, tests/soak/job_server.py (a slow external job API), one wf-api and
# three wf-engines (lease 3 s, poll 200 ms). Installs a template `soak`
#
#   prepare (noop) -> job (rest_job against the job server) -> finish (noop)
#
# submits N_REQUESTS requests (curl, SOAK_BATCH at a time, in the background), and from
# the first submission on, until every request is terminal or DURATION_S seconds have
# passed, SIGKILLs a random live engine every 2-6 s and restarts it (with a new engine id
# and log file) 0-2 s later. Then it stops killing and waits up to SOAK_SETTLE_S (120)
# more seconds for the rest.
#
# Reports (progress lines, a summary, and one JSON line at the end): submitted,
# succeeded, failed, stuck (not terminal at the end), lost (submitted ids the API does not
# know), duplicated job creates (Idempotency-Keys the job server saw more than once),
# kills, wall time, and more. Exits 0 only if nothing was lost, stuck, failed or
# duplicated (and every submission was accepted and every output is the right one);
# 1 if the soak found a problem; 2 if the stack could not be set up.
#
# Everything it starts is stopped on exit (by pid file). Logs and the report stay in the
# temp dir; the database and Redis data are removed after a clean pass unless SOAK_KEEP=1.
#
# Environment:
#   WF_BUILD_DIR [<repo>/build]  where wf-api and wf-engine are (built if missing)
#   SOAK_SETTLE_S [120]          wait after the kill phase
#   SOAK_ENGINES [3]             number of engines
#   SOAK_MAX_CLAIMS [100]        WF_ENGINE_MAX_CLAIMS for the engines (1-1000); the
#                                default 10 would quarantine requests by design
#   SOAK_BATCH [8]               submissions in flight at once; keep it below the API's
#                                api.threads (16): more idle keep-alive connections than
#                                threads stall the API for its keep-alive timeout (5 s)
#   SOAK_RATE [0]                submissions per second; 0: as fast as possible. A rate
#                                spreads the load (and the requests in flight) over the
#                                kill phase, e.g. SOAK_RATE=4 for 1000 requests in 300 s
#   SOAK_JOB_MIN_S [0.5], SOAK_JOB_MAX_S [3]  how long a job of the job server takes
#   SOAK_LOG_LEVEL [info]        WF_LOG_LEVEL for the services
#   SOAK_KEEP [0]                1: keep the database and Redis data even after a pass
#   SOAK_TMP [/tmp]              parent of the temp dir (must be traversable by `postgres`)

set -uo pipefail

usage() {
  sed -n '3,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

N_REQUESTS="${1:-1000}"
DURATION_S="${2:-300}"
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  usage
  exit 0
fi
if ! [[ "${N_REQUESTS}" =~ ^[0-9]+$ && "${DURATION_S}" =~ ^[0-9]+$ ]] ||
  ((N_REQUESTS < 1 || DURATION_S < 1)) || (($# > 2)); then
  echo "usage: $0 [N_REQUESTS=1000] [DURATION_S=300]" >&2
  exit 2
fi

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${SCRIPT_DIR}/../.." && pwd)"
# shellcheck source=../../deploy/local/lib.sh source-path=SCRIPTDIR
source "${REPO}/deploy/local/lib.sh"

BUILD_DIR="${WF_BUILD_DIR:-${REPO}/build}"
SETTLE_S="${SOAK_SETTLE_S:-120}"
ENGINES="${SOAK_ENGINES:-3}"
MAX_CLAIMS="${SOAK_MAX_CLAIMS:-100}"
BATCH="${SOAK_BATCH:-8}"
RATE="${SOAK_RATE:-0}"
JOB_MIN_S="${SOAK_JOB_MIN_S:-0.5}"
JOB_MAX_S="${SOAK_JOB_MAX_S:-3}"
LOG_LEVEL="${SOAK_LOG_LEVEL:-info}"
KEEP="${SOAK_KEEP:-0}"
LEASE_MS=3000
POLL_MS=200
API_BIN="${BUILD_DIR}/services/api/wf-api"
ENGINE_BIN="${BUILD_DIR}/services/engine/wf-engine"
PYTHON="$(command -v python3 || true)"
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3

for v in SETTLE_S ENGINES MAX_CLAIMS BATCH RATE; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "${v} must be a number" >&2; exit 2; }
done
((ENGINES >= 1 && BATCH >= 1)) || { echo "SOAK_ENGINES and SOAK_BATCH must be >= 1" >&2; exit 2; }
for v in JOB_MIN_S JOB_MAX_S; do
  [[ "${!v}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "SOAK_${v} must be a number of seconds" >&2; exit 2; }
done

START_SECONDS=${SECONDS}

# ---------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------

elapsed() { echo $((SECONDS - START_SECONDS)); }
say() { printf '[soak %s +%ss] %s\n' "$(date +%H:%M:%S)" "$(elapsed)" "$*"; }
warn() { say "WARNING: $*"; }

# sleep_ms MS
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# ---------------------------------------------------------------------------
# Preconditions
# ---------------------------------------------------------------------------

for tool in curl jq psql redis-server redis-cli setsid; do
  command -v "${tool}" >/dev/null 2>&1 || { echo "missing tool: ${tool}" >&2; exit 2; }
done
[[ -n "${PYTHON}" ]] || { echo "missing tool: python3" >&2; exit 2; }

if [[ ! -x "${API_BIN}" || ! -x "${ENGINE_BIN}" ]]; then
  say "binaries missing; building in ${BUILD_DIR}"
  cmake --build "${BUILD_DIR}" -j2 || { echo "build failed" >&2; exit 2; }
fi
[[ -x "${API_BIN}" && -x "${ENGINE_BIN}" ]] || { echo "no wf-api/wf-engine in ${BUILD_DIR}" >&2; exit 2; }

SOAK_DIR="$(mktemp -d "${SOAK_TMP:-/tmp}/wf-soak.XXXXXX")" || { echo "mktemp failed" >&2; exit 2; }
# PostgreSQL runs as `postgres` and must be able to reach its data dir.
chmod 755 "${SOAK_DIR}"
PG_DIR="${SOAK_DIR}/pg"
REDIS_DIR="${SOAK_DIR}/redis"
RUN_DIR="${SOAK_DIR}/run"
LOG_DIR="${SOAK_DIR}/logs"
TPL_DIR="${SOAK_DIR}/templates"
OUT_DIR="${SOAK_DIR}/out"
REPORT="${SOAK_DIR}/report.txt"
KILL_LOG="${SOAK_DIR}/kills.log"
mkdir -p "${RUN_DIR}" "${LOG_DIR}" "${TPL_DIR}" "${OUT_DIR}/submit" "${OUT_DIR}/final" "${SOAK_DIR}/bin"

# Run copies of the binaries, so that a rebuild during the soak changes nothing and every
# engine restart runs the same build.
cp "${API_BIN}" "${ENGINE_BIN}" "${SOAK_DIR}/bin/" || { echo "cannot copy the binaries" >&2; exit 2; }
say "binaries: $(stat -c '%n built %y' "${ENGINE_BIN}" | cut -d. -f1)"
API_BIN="${SOAK_DIR}/bin/wf-api"
ENGINE_BIN="${SOAK_DIR}/bin/wf-engine"

# ---------------------------------------------------------------------------
# Cleanup: stop exactly what this script started, by pid file
# ---------------------------------------------------------------------------

CLEANED=0
PASSED=0
# shellcheck disable=SC2317 # invoked through trap
cleanup() {
  local rc=$?
  ((CLEANED)) && return
  CLEANED=1
  trap '' INT TERM
  local p f
  # Submissions still in flight (only when interrupted).
  for p in $(jobs -pr); do kill "${p}" 2>/dev/null || true; done
  say "cleanup: stopping engines, api, job server, Redis, PostgreSQL"
  for f in "${RUN_DIR}"/engine-*.pid; do
    [[ -e "${f}" ]] || continue
    WF_STOP_TIMEOUT=10 wf_stop_pidfile "${f}" wf-engine &
  done
  wait
  wf_stop_pidfile "${RUN_DIR}/api.pid" wf-api || true
  wf_stop_pidfile "${RUN_DIR}/jobs.pid" job_server.py || true
  wf_redis_stop "${REDIS_DIR}" || true
  wf_pg_stop "${PG_DIR}" || true
  if ((PASSED)) && [[ "${KEEP}" != 1 ]]; then
    rm -rf "${PG_DIR}" "${REDIS_DIR}"
    say "logs and report kept in ${SOAK_DIR} (database and Redis data removed)"
  else
    say "everything kept in ${SOAK_DIR}"
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup_fail() {
  say "SETUP FAILED: $*"
  local f
  for f in "${LOG_DIR}"/*.log; do
    [[ -s "${f}" ]] || continue
    echo "--- tail of ${f}"
    tail -n 15 "${f}"
  done
  exit 2
}

# ---------------------------------------------------------------------------
# Stack
# ---------------------------------------------------------------------------

PG_PORT="$(wf_free_port)" || setup_fail "no free port"
REDIS_PORT="$(wf_free_port)" || setup_fail "no free port"
while [[ "${REDIS_PORT}" == "${PG_PORT}" ]]; do REDIS_PORT="$(wf_free_port)"; done
JOB_PORT="$(wf_free_port)" || setup_fail "no free port"
API_PORT="$(wf_free_port)" || setup_fail "no free port"
API="http://127.0.0.1:${API_PORT}"
JOBS="http://127.0.0.1:${JOB_PORT}"
DATABASE_URL="postgresql://postgres@127.0.0.1:${PG_PORT}/wf"
REDIS_URL="redis://127.0.0.1:${REDIS_PORT}"

say "soak: ${N_REQUESTS} requests, ${DURATION_S}s kill phase, ${SETTLE_S}s settle, ${ENGINES} engines; dir ${SOAK_DIR}"

wf_pg_start "${PG_DIR}" "${PG_PORT}" || setup_fail "PostgreSQL did not start"
wf_redis_start "${REDIS_DIR}" "${REDIS_PORT}" || setup_fail "Redis did not start"

wf_start_bg "${RUN_DIR}/jobs.pid" "${LOG_DIR}/job_server.log" \
  "${PYTHON}" "${SCRIPT_DIR}/job_server.py" "${JOB_PORT}" "${JOB_MIN_S}" "${JOB_MAX_S}" ||
  setup_fail "job server did not start"
wf_wait_http "${JOBS}/stats" 20 "${RUN_DIR}/jobs.pid" || setup_fail "job server not answering"

cat >"${TPL_DIR}/soak.json" <<EOF
{
  "name": "soak",
  "version": "1",
  "description": "Soak test: a long external job between two quick steps.",
  "tasks": [
    { "id": "prepare", "type": "noop" },
    {
      "id": "job",
      "type": "rest_job",
      "depends_on": ["prepare"],
      "params": {
        "create": {
          "method": "POST",
          "url": "${JOBS}/jobs",
          "body": { "request": "\${request.id}" },
          "job_id": "/id"
        },
        "poll": {
          "url": "${JOBS}/jobs/{job_id}",
          "status": "/status",
          "success": ["done"],
          "failure": ["failed"],
          "interval_ms": 300
        },
        "outputs": { "result": "/result" },
        "timeout_ms": 10000
      }
    },
    {
      "id": "finish",
      "type": "noop",
      "depends_on": ["job"],
      "params": { "outputs": { "result": "\${tasks.job.outputs.result}" } }
    }
  ],
  "outputs": { "result": "\${tasks.finish.outputs.result}" }
}
EOF
jq -e . "${TPL_DIR}/soak.json" >/dev/null || setup_fail "template is not valid JSON"

# Services run with a clean environment: only the settings given here.
service_env() {
  printf '%s\n' env -i "PATH=${PATH}" "HOME=${HOME:-/root}" \
    "WF_DATABASE_URL=${DATABASE_URL}" "WF_REDIS_URL=${REDIS_URL}" \
    "WF_TEMPLATES_DIR=${TPL_DIR}" "WF_LOG_LEVEL=${LOG_LEVEL}"
}
mapfile -t SERVICE_ENV < <(service_env)

wf_start_bg "${RUN_DIR}/api.pid" "${LOG_DIR}/api.log" "${SERVICE_ENV[@]}" \
  WF_API_HOST=127.0.0.1 "WF_API_PORT=${API_PORT}" "${API_BIN}" || setup_fail "wf-api did not start"
wf_wait_http "${API}/readyz" 90 "${RUN_DIR}/api.pid" || setup_fail "wf-api not ready"

# The template must be loadable by the API before anything is submitted.
for ((i = 0; i < 20; i++)); do
  curl -s --max-time 5 "${API}/v1/templates/soak" | jq -e '.name == "soak"' >/dev/null 2>&1 && break
  sleep 0.5
done
if ((i == 20)); then
  curl -s --max-time 5 "${API}/v1/templates" | jq -c '.errors' 2>/dev/null
  setup_fail "template soak not loaded by wf-api"
fi

declare -A ENGINE_GEN=()
declare -A ENGINE_STARTED=()
ENGINE_STARTS=0

# start_engine SLOT: start (or restart) the engine of SLOT with a new id and log file.
start_engine() {
  local slot="$1" gen id log
  gen=$((${ENGINE_GEN[${slot}]:-0} + 1))
  ENGINE_GEN[${slot}]=${gen}
  id="soak-e${slot}-r${gen}"
  log="${LOG_DIR}/engine-${slot}.r${gen}.log"
  wf_start_bg "${RUN_DIR}/engine-${slot}.pid" "${log}" "${SERVICE_ENV[@]}" \
    "WF_ENGINE_ID=${id}" "WF_ENGINE_LEASE_MS=${LEASE_MS}" "WF_ENGINE_POLL_MS=${POLL_MS}" \
    "WF_ENGINE_MAX_CLAIMS=${MAX_CLAIMS}" "${ENGINE_BIN}" || return 1
  ENGINE_STARTED[${slot}]=${SECONDS}
  ENGINE_STARTS=$((ENGINE_STARTS + 1))
  printf '%s start slot=%s id=%s pid=%s log=%s\n' "$(date +%H:%M:%S.%3N)" "${slot}" "${id}" \
    "$(cat "${RUN_DIR}/engine-${slot}.pid" 2>/dev/null)" "${log##*/}" >>"${KILL_LOG}"
}

engine_pid() { wf_pidfile_pid "${RUN_DIR}/engine-$1.pid" wf-engine; }

for ((s = 1; s <= ENGINES; s++)); do
  start_engine "${s}" || setup_fail "wf-engine ${s} did not start"
done
# Wait (bounded) until every engine shows up in the presence list.
for ((i = 0; i < 60; i++)); do
  n="$(curl -s --max-time 3 "${API}/v1/services" |
    jq '[.services[] | select(.kind == "engine")] | length' 2>/dev/null || echo 0)"
  [[ "${n}" =~ ^[0-9]+$ ]] && ((n >= ENGINES)) && break
  for ((s = 1; s <= ENGINES; s++)); do
    engine_pid "${s}" >/dev/null || setup_fail "wf-engine ${s} exited at start"
  done
  sleep 0.5
done
((i < 60)) || warn "only ${n:-0} of ${ENGINES} engines registered in presence after 30s"
say "stack up: pg :${PG_PORT}, redis :${REDIS_PORT}, jobs :${JOB_PORT}, api :${API_PORT}, engines ${ENGINES}"

# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------

# Progress comes straight from the database (one cheap query, no cap on the counts);
# the final accounting below reads every request through the API.
declare -A COUNT=()
# count_requests: fill COUNT[status] (pending, running, succeeded, failed, cancelled) and
# set OUTSTANDING (pending + running, or "?" when the database does not answer).
count_requests() {
  local rows status n
  COUNT=([pending]=0 [running]=0 [succeeded]=0 [failed]=0 [cancelled]=0)
  if ! rows="$(PGOPTIONS='-c statement_timeout=5000' wf_psql "${PG_PORT}" -d wf -tA -F' ' \
    -c "SELECT status, count(*) FROM requests GROUP BY status" 2>/dev/null)"; then
    OUTSTANDING="?"
    return 1
  fi
  while read -r status n; do
    [[ -n "${status}" ]] && COUNT[${status}]="${n}"
  done <<<"${rows}"
  OUTSTANDING=$((COUNT[pending] + COUNT[running]))
}

OUTSTANDING="?"
# progress LABEL: print one progress line; sets OUTSTANDING.
progress() {
  local live=0 s counts
  for ((s = 1; s <= ENGINES; s++)); do engine_pid "${s}" >/dev/null && live=$((live + 1)); done
  if count_requests; then
    counts="pending=${COUNT[pending]} running=${COUNT[running]} succeeded=${COUNT[succeeded]} failed=${COUNT[failed]}"
  else
    counts="(database did not answer)"
  fi
  say "$1 ${counts} engines_alive=${live}/${ENGINES} kills=${KILLS}"
}

# outstanding: set OUTSTANDING without printing.
outstanding() { count_requests || true; }

UNEXPECTED_EXITS=0
# ensure_engines: restart any engine that exited without being killed by us.
ensure_engines() {
  local s log
  for ((s = 1; s <= ENGINES; s++)); do
    engine_pid "${s}" >/dev/null && continue
    log="${LOG_DIR}/engine-${s}.r${ENGINE_GEN[${s}]}.log"
    UNEXPECTED_EXITS=$((UNEXPECTED_EXITS + 1))
    warn "engine slot ${s} (soak-e${s}-r${ENGINE_GEN[${s}]}) exited on its own; last log lines:"
    tail -n 10 "${log}" 2>/dev/null | sed 's/^/    /'
    printf '%s unexpected-exit slot=%s id=soak-e%s-r%s\n' "$(date +%H:%M:%S.%3N)" "${s}" "${s}" \
      "${ENGINE_GEN[${s}]}" >>"${KILL_LOG}"
    start_engine "${s}" || warn "could not restart engine slot ${s}"
  done
}

# ---------------------------------------------------------------------------
# Submit (in the background) and kill
# ---------------------------------------------------------------------------

KILLS=0
PHASE_START=${SECONDS}
DEADLINE=$((PHASE_START + DURATION_S))

# Submissions go out in chunks (of SOAK_RATE, or 100 when not paced), each chunk through
# one curl process running SOAK_BATCH transfers at a time. Per transfer: the answer in
# submit/<i>.json and a line "<http code> <i>" in submit/codes.
submit_chunk() {
  local from="$1" to="$2" i cfg="${OUT_DIR}/submit/chunk.curl"
  : >"${cfg}"
  for ((i = from; i <= to; i++)); do
    ((i > from)) && echo next >>"${cfg}"
    printf '%s\n' \
      "url = \"${API}/v1/requests\"" \
      'request = "POST"' \
      'silent' \
      'max-time = 20' \
      'header = "Content-Type: application/json"' \
      "data = \"{\\\"template\\\": \\\"soak\\\", \\\"data\\\": {\\\"n\\\": ${i}}}\"" \
      "output = \"${OUT_DIR}/submit/${i}.json\"" \
      "write-out = \"%{http_code} ${i}\\\\n\"" >>"${cfg}"
  done
  curl --parallel --parallel-max "${BATCH}" -K "${cfg}" >>"${OUT_DIR}/submit/codes" 2>/dev/null
}

# now_ms: wall clock in milliseconds.
now_ms() { local t="${EPOCHREALTIME//[.,]/}"; echo $((10#${t} / 1000)); }

# submit_all: every submission, chunk after chunk (run in the background). With
# SOAK_RATE, chunk k starts k seconds after the first one.
submit_all() {
  local i last size=100 k=0 start wait_ms reported=0
  ((RATE > 0)) && size=${RATE}
  start="$(now_ms)"
  for ((i = 1; i <= N_REQUESTS; i += size)); do
    if ((RATE > 0)); then
      wait_ms=$((start + k * 1000 - $(now_ms)))
      ((wait_ms > 0)) && sleep_ms "${wait_ms}"
      k=$((k + 1))
    fi
    last=$((i + size - 1 < N_REQUESTS ? i + size - 1 : N_REQUESTS))
    submit_chunk "${i}" "${last}"
    if ((last / 200 > reported || last == N_REQUESTS)); then
      reported=$((last / 200))
      say "submitted ${last}/${N_REQUESTS}"
    fi
  done
}

IDS_FILE="${OUT_DIR}/ids.txt"
: >"${IDS_FILE}"
SUBMITTED=0
SUBMIT_ERRORS=0
SUBMIT_DONE=0

# collect_submissions: wait for the submitter, then read the accepted ids.
collect_submissions() {
  local code i n=0
  local -A codes=()
  local -a accepted=()
  wait "${SUBMIT_PID}" 2>/dev/null
  while read -r code i; do
    codes[${i}]="${code}"
  done <"${OUT_DIR}/submit/codes"
  for ((i = 1; i <= N_REQUESTS; i++)); do
    [[ "${codes[${i}]:-}" == 202 ]] && accepted+=("${OUT_DIR}/submit/${i}.json")
  done
  if ((${#accepted[@]} > 0)); then
    jq -r '.request_id // empty' "${accepted[@]}" >"${IDS_FILE}" 2>/dev/null ||
      warn "could not read the ids of every accepted submission"
  fi
  SUBMITTED="$(wc -l <"${IDS_FILE}")"
  SUBMIT_ERRORS=$((N_REQUESTS - SUBMITTED))
  for ((i = 1; i <= N_REQUESTS && n < 5; i++)); do
    [[ "${codes[${i}]:-}" == 202 ]] && continue
    n=$((n + 1))
    warn "submission ${i} failed: HTTP ${codes[${i}]:-none} $(head -c 300 "${OUT_DIR}/submit/${i}.json" 2>/dev/null)"
  done
  SUBMIT_DONE=1
  say "submissions done: ${SUBMITTED} accepted, ${SUBMIT_ERRORS} failed"
}

# maybe_collect: collect the submissions once the submitter has finished.
maybe_collect() {
  ((SUBMIT_DONE)) && return 0
  wf_pid_alive "${SUBMIT_PID}" && return 0
  collect_submissions
}

# all_done: true once every submission is in and no request is pending or running.
all_done() { ((SUBMIT_DONE)) && [[ "${OUTSTANDING}" == 0 ]]; }

# Engines are killed while the submissions go out too: requests are in flight from the
# first submission on.
if ((RATE > 0)); then
  say "submitting ${N_REQUESTS} requests in the background, ${RATE}/s (${BATCH} at a time)"
  ((N_REQUESTS / RATE > DURATION_S)) &&
    warn "at ${RATE}/s the submissions take longer than the ${DURATION_S}s kill phase"
else
  say "submitting ${N_REQUESTS} requests in the background (${BATCH} at a time)"
fi
: >"${OUT_DIR}/submit/codes"
submit_all &
SUBMIT_PID=$!

# ---------------------------------------------------------------------------
# Kill phase
# ---------------------------------------------------------------------------

say "kill phase: until all requests are terminal or +$((DEADLINE - START_SECONDS))s"
while ((SECONDS < DEADLINE)); do
  maybe_collect
  ensure_engines
  progress "kill phase:"
  all_done && break
  delay=$((2000 + RANDOM % 4001))
  left_ms=$(((DEADLINE - SECONDS) * 1000))
  ((left_ms <= 0)) && break
  sleep_ms $((delay < left_ms ? delay : left_ms))
  ((SECONDS < DEADLINE)) || break

  live=()
  for ((s = 1; s <= ENGINES; s++)); do engine_pid "${s}" >/dev/null && live+=("${s}"); done
  ((${#live[@]} > 0)) || continue
  slot="${live[RANDOM % ${#live[@]}]}"
  pid="$(engine_pid "${slot}")" || continue
  kill -KILL "${pid}" 2>/dev/null || continue
  KILLS=$((KILLS + 1))
  up=$((SECONDS - ${ENGINE_STARTED[${slot}]:-SECONDS}))
  printf '%s kill #%s slot=%s id=soak-e%s-r%s pid=%s up=%ss\n' "$(date +%H:%M:%S.%3N)" "${KILLS}" \
    "${slot}" "${slot}" "${ENGINE_GEN[${slot}]}" "${pid}" "${up}" >>"${KILL_LOG}"
  pause=$((RANDOM % 2001))
  say "kill #${KILLS}: SIGKILL engine soak-e${slot}-r${ENGINE_GEN[${slot}]} (pid ${pid}, up ${up}s); restart in ${pause}ms"
  sleep_ms "${pause}"
  start_engine "${slot}" || warn "could not restart engine slot ${slot}"
done
if ((!SUBMIT_DONE)); then
  say "kill phase over; waiting for the submissions to finish"
  collect_submissions
  outstanding
fi
KILL_PHASE_S=$((SECONDS - PHASE_START))

# ---------------------------------------------------------------------------
# Settle phase: no more kills
# ---------------------------------------------------------------------------

if ! all_done; then
  say "kill phase over after ${KILL_PHASE_S}s (${KILLS} kills); waiting up to ${SETTLE_S}s for the rest"
  settle_deadline=$((SECONDS + SETTLE_S))
  n=0
  while ((SECONDS < settle_deadline)); do
    ensure_engines
    if ((n % 5 == 0)); then
      progress "settle:"
    else
      outstanding
    fi
    [[ "${OUTSTANDING}" == 0 ]] && break
    n=$((n + 1))
    sleep 2
  done
  progress "settle done:"
else
  say "all requests terminal after ${KILL_PHASE_S}s (${KILLS} kills)"
fi

# ---------------------------------------------------------------------------
# Final accounting
# ---------------------------------------------------------------------------

say "reading every submitted request back"
CURL_CFG="${OUT_DIR}/final.curl"
: >"${CURL_CFG}"
while read -r id; do
  printf 'url = "%s/v1/requests/%s"\noutput = "%s/final/%s.json"\n' "${API}" "${id}" "${OUT_DIR}" "${id}" >>"${CURL_CFG}"
done <"${IDS_FILE}"
CODES="${OUT_DIR}/final.codes"
: >"${CODES}"
if ((SUBMITTED > 0)); then
  curl -s --parallel --parallel-max 8 --max-time 20 -w '%{http_code} %{url_effective}\n' \
    -K "${CURL_CFG}" >"${CODES}" 2>/dev/null
fi

# One row per submitted id: id, http code, status, claims, job attempts, task statuses,
# output check, error.
TABLE="${OUT_DIR}/requests.tsv"
: >"${TABLE}"
declare -A HTTP_CODE=()
while read -r code url; do
  HTTP_CODE["${url##*/}"]="${code}"
done <"${CODES}"
ok_files=()
while read -r id; do
  code="${HTTP_CODE[${id}]:-000}"
  f="${OUT_DIR}/final/${id}.json"
  # A transfer that failed is tried again, one at a time (at most 3 times).
  for ((t = 0; t < 3; t++)); do
    [[ "${code}" == 200 || "${code}" == 404 ]] && break
    sleep 0.2
    code="$(curl -s --max-time 10 -o "${f}" -w '%{http_code}' "${API}/v1/requests/${id}" 2>/dev/null)"
  done
  case "${code}" in
    200) ok_files+=("${f}") ;;
    404) printf '%s\t404\tlost\t0\t0\t-\t-\t-\n' "${id}" >>"${TABLE}" ;;
    *) printf '%s\t%s\tunreadable\t0\t0\t-\t-\t-\n' "${id}" "${code}" >>"${TABLE}" ;;
  esac
done <"${IDS_FILE}"
# The rows of every readable request, in one jq run.
if ((${#ok_files[@]} > 0)); then
  jq -r '
    (first(.tasks[] | select(.id == "job")) // {}) as $j
    | .request_id as $id
    | [ $id, "200", .status, (.claims // 0), ($j.attempts // 0),
        ([.tasks[] | "\(.id)=\(.status)"] | join(",")),
        (if .status != "succeeded" then "-"
         elif (.outputs.result // "") == ($id + "/job|" + (($j.outputs.job_id // "") | tostring))
         then "ok" else "bad" end),
        ((.error // "") | tostring | gsub("[\t\n]"; " ") | .[0:300]) ]
    | @tsv' "${ok_files[@]}" >>"${TABLE}" 2>/dev/null ||
    warn "some GET answers were not JSON; see ${OUT_DIR}/final"
fi
# An id whose answer could not be parsed has no row.
while read -r id; do
  printf '%s\t200\tunparsable\t0\t0\t-\t-\t-\n' "${id}" >>"${TABLE}"
done < <(cut -f1 "${TABLE}" | sort | comm -13 - <(sort "${IDS_FILE}"))

count_col() { awk -F'\t' -v s="$1" '$3 == s' "${TABLE}" | wc -l; }
SUCCEEDED="$(count_col succeeded)"
FAILED="$(count_col failed)"
CANCELLED="$(count_col cancelled)"
STUCK=$(($(count_col pending) + $(count_col running)))
LOST="$(count_col lost)"
UNREADABLE=$(($(count_col unreadable) + $(count_col unparsable)))
BAD_OUTPUTS="$(awk -F'\t' '$7 == "bad"' "${TABLE}" | wc -l)"
QUARANTINED="$(awk -F'\t' '$3 == "failed" && $8 ~ /quarantined/' "${TABLE}" | wc -l)"
MAX_CLAIMS_SEEN="$(awk -F'\t' 'BEGIN {m = 0} $4 + 0 > m {m = $4 + 0} END {print m}' "${TABLE}")"
RECLAIMED="$(awk -F'\t' '$4 + 0 > 1' "${TABLE}" | wc -l)"
MAX_JOB_ATTEMPTS="$(awk -F'\t' 'BEGIN {m = 0} $5 + 0 > m {m = $5 + 0} END {print m}' "${TABLE}")"

STATS="$(curl -s --max-time 10 "${JOBS}/stats")"
JOB_CREATES="$(jq -r '.creates // "?"' <<<"${STATS}" 2>/dev/null || echo '?')"
JOB_KEYS="$(jq -r '.keys // "?"' <<<"${STATS}" 2>/dev/null || echo '?')"
# A create repeated with the same Idempotency-Key (the engine died between the call and
# saving its answer) gets the same job back: reported, not a failure. A duplicate is a
# job more than there are requests: work really done twice.
REPEATED_CREATES="$(jq -r '.duplicates // "?"' <<<"${STATS}" 2>/dev/null || echo '?')"
JOBS_MADE="$(jq -r '.jobs // "?"' <<<"${STATS}" 2>/dev/null || echo '?')"
if [[ "${JOBS_MADE}" =~ ^[0-9]+$ ]]; then
  DUPLICATES=$((JOBS_MADE > SUBMITTED ? JOBS_MADE - SUBMITTED : 0))
else
  DUPLICATES="?"
fi

DB_COUNTS="$(wf_psql "${PG_PORT}" -d wf -tA -F= \
  -c "SELECT status, count(*) FROM requests GROUP BY status ORDER BY status" 2>/dev/null | paste -sd' ')"
DB_TOTAL="$(wf_psql "${PG_PORT}" -d wf -tAc "SELECT count(*) FROM requests" 2>/dev/null || echo '?')"

ENGINE_LOGS=("${LOG_DIR}"/engine-*.log)
LOG_ERRORS="$(cat "${ENGINE_LOGS[@]}" 2>/dev/null | grep -c -E ' (error|critical) ' || true)"
LOG_WARNINGS="$(cat "${ENGINE_LOGS[@]}" 2>/dev/null | grep -c -E ' warning ' || true)"
# Signs of trouble that do not fail the soak by themselves: leases a live engine lost,
# failed lease renewals, and deadlocks in PostgreSQL.
LEASES_LOST="$(cat "${ENGINE_LOGS[@]}" 2>/dev/null | grep -c 'lease lost' || true)"
RENEW_FAILURES="$(cat "${ENGINE_LOGS[@]}" 2>/dev/null | grep -c -E 'renewing .* failed' || true)"
PG_DEADLOCKS="$(grep -c 'deadlock detected' "${PG_DIR}/postgresql.log" 2>/dev/null || true)"
WALL_S=$((SECONDS - START_SECONDS))

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

# details TITLE IDS...: the GET output and engine log lines of (at most 10) requests.
details() {
  local title="$1" id n=0
  shift
  (($# > 0)) || return 0
  echo
  echo "=== ${title}: $# request(s); showing up to 10"
  for id in "$@"; do
    n=$((n + 1))
    ((n > 10)) && break
    echo "--- ${id}"
    jq -c . "${OUT_DIR}/final/${id}.json" 2>/dev/null || echo "(no readable GET output)"
    echo "    engine log lines:"
    grep -h -F "${id}" "${ENGINE_LOGS[@]}" /dev/null 2>/dev/null | sort | head -n 40 | sed 's/^/    /'
    echo "    job server log lines:"
    grep -h -F "${id}" "${LOG_DIR}/job_server.log" /dev/null 2>/dev/null | head -n 10 | sed 's/^/    /'
  done
}

# ids_where COLUMN VALUE...: ids of the rows whose COLUMN (3 status, 7 output check) is
# one of VALUE...
ids_where() {
  local col="$1"
  shift
  awk -F'\t' -v col="${col}" -v values=" $* " 'index(values, " " $col " ") {print $1}' "${TABLE}"
}
mapfile -t FAILED_IDS < <(ids_where 3 failed)
mapfile -t STUCK_IDS < <(ids_where 3 pending running)
mapfile -t LOST_IDS < <(ids_where 3 lost unreadable unparsable)
mapfile -t BAD_IDS < <(ids_where 7 bad)
mapfile -t DUP_IDS < <(jq -r '.duplicate_keys // {} | keys[] | split("/")[0]' <<<"${STATS}" 2>/dev/null)

{
  echo
  echo "==================== soak summary ===================="
  printf '%-22s %s\n' \
    "settings" "${ENGINES} engines, lease ${LEASE_MS} ms, poll ${POLL_MS} ms, max_claims ${MAX_CLAIMS}, batch ${BATCH}, rate ${RATE}/s, jobs ${JOB_MIN_S}-${JOB_MAX_S} s" \
    "requested" "${N_REQUESTS}" \
    "submitted" "${SUBMITTED} (failed submissions: ${SUBMIT_ERRORS})" \
    "succeeded" "${SUCCEEDED}" \
    "failed" "${FAILED} (quarantined: ${QUARANTINED})" \
    "cancelled" "${CANCELLED}" \
    "stuck" "${STUCK}" \
    "lost" "${LOST} (unreadable: ${UNREADABLE})" \
    "bad outputs" "${BAD_OUTPUTS}" \
    "duplicated jobs" "${DUPLICATES} (job server: ${JOBS_MADE} jobs, ${JOB_CREATES} creates, ${JOB_KEYS} keys)" \
    "repeated creates" "${REPEATED_CREATES} (same key again after a kill: answered with the same job)" \
    "kills" "${KILLS} (engine starts: ${ENGINE_STARTS}, unexpected exits: ${UNEXPECTED_EXITS})" \
    "re-claimed requests" "${RECLAIMED} (max claims: ${MAX_CLAIMS_SEEN}, max job attempts: ${MAX_JOB_ATTEMPTS})" \
    "database" "${DB_TOTAL} requests: ${DB_COUNTS}" \
    "engine log" "${LOG_ERRORS} error lines, ${LOG_WARNINGS} warning lines" \
    "lease trouble" "${LEASES_LOST} leases lost, ${RENEW_FAILURES} failed renewals, ${PG_DEADLOCKS:-?} PostgreSQL deadlocks" \
    "kill phase" "${KILL_PHASE_S}s" \
    "wall time" "${WALL_S}s" \
    "files" "${SOAK_DIR} (report.txt, kills.log, logs/, out/requests.tsv)"
  details "FAILED" "${FAILED_IDS[@]}"
  details "STUCK" "${STUCK_IDS[@]}"
  details "LOST" "${LOST_IDS[@]}"
  details "BAD OUTPUT" "${BAD_IDS[@]}"
  details "DUPLICATED CREATE" "${DUP_IDS[@]}"
  if ((LOG_ERRORS + LOG_WARNINGS > 0)); then
    echo
    echo "=== engine warnings and errors (first 20; timestamps and ids stripped, counted)"
    cat "${ENGINE_LOGS[@]}" 2>/dev/null | grep -E ' (warning|error|critical) ' |
      sed -E 's/^[^ ]+ //; s/\[[^]]*\] //; s/[0-9a-f]{8}-[0-9a-f-]{27}/<id>/g; s/[0-9]+/N/g' |
      sort | uniq -c | sort -rn | head -n 20
  fi
  if ((PG_DEADLOCKS > 0)); then
    echo
    echo "=== first PostgreSQL deadlock (${PG_DIR}/postgresql.log)"
    grep -m1 -A4 'deadlock detected' "${PG_DIR}/postgresql.log" | cut -c1-400
  fi
} | tee "${REPORT}"

if [[ "${SUBMIT_ERRORS}" == 0 && "${LOST}" == 0 && "${UNREADABLE}" == 0 && "${STUCK}" == 0 &&
  "${FAILED}" == 0 && "${DUPLICATES}" == 0 && "${BAD_OUTPUTS}" == 0 && "${SUBMITTED}" -gt 0 ]]; then
  PASSED=1
  RESULT=pass
else
  RESULT=fail
fi

JSON="$(jq -nc \
  --arg result "${RESULT}" --arg dir "${SOAK_DIR}" --arg dups "${DUPLICATES}" \
  --argjson requested "${N_REQUESTS}" --argjson submitted "${SUBMITTED}" \
  --argjson submit_errors "${SUBMIT_ERRORS}" --argjson succeeded "${SUCCEEDED}" \
  --argjson failed "${FAILED}" --argjson quarantined "${QUARANTINED}" \
  --argjson cancelled "${CANCELLED}" --argjson stuck "${STUCK}" --argjson lost "${LOST}" \
  --argjson unreadable "${UNREADABLE}" --argjson bad_outputs "${BAD_OUTPUTS}" \
  --argjson kills "${KILLS}" --argjson unexpected_exits "${UNEXPECTED_EXITS}" \
  --argjson reclaimed "${RECLAIMED}" --argjson max_claims "${MAX_CLAIMS_SEEN}" \
  --argjson max_job_attempts "${MAX_JOB_ATTEMPTS}" \
  --argjson engine_log_errors "${LOG_ERRORS}" \
  --argjson leases_lost "${LEASES_LOST}" --argjson renew_failures "${RENEW_FAILURES}" \
  --arg pg_deadlocks "${PG_DEADLOCKS}" \
  --argjson kill_phase_s "${KILL_PHASE_S}" --argjson wall_s "${WALL_S}" \
  --arg job_creates "${JOB_CREATES}" --arg job_keys "${JOB_KEYS}" \
  '{result: $result, requested: $requested, submitted: $submitted,
    submit_errors: $submit_errors, succeeded: $succeeded, failed: $failed,
    quarantined: $quarantined, cancelled: $cancelled, stuck: $stuck, lost: $lost,
    unreadable: $unreadable, bad_outputs: $bad_outputs,
    duplicates: ($dups | tonumber? // null),
    job_creates: ($job_creates | tonumber? // null), job_keys: ($job_keys | tonumber? // null),
    kills: $kills, unexpected_exits: $unexpected_exits, reclaimed: $reclaimed,
    max_claims: $max_claims, max_job_attempts: $max_job_attempts,
    engine_log_errors: $engine_log_errors, leases_lost: $leases_lost,
    renew_failures: $renew_failures, pg_deadlocks: ($pg_deadlocks | tonumber? // null),
    kill_phase_s: $kill_phase_s, wall_s: $wall_s,
    dir: $dir}')"
echo "${JSON}" >"${SOAK_DIR}/summary.json"
echo
echo "SOAK_RESULT ${JSON}"

if ((PASSED)); then
  exit 0
fi
exit 1
