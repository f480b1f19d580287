#!/bin/bash
# bench/run.sh — run one wf-bench scenario on a throw-away stack.
#
#   bench/run.sh chain  [wf-bench args]    e.g. bench/run.sh chain -n 2000 -k 5 -c 32
#   bench/run.sh hop    [wf-bench args]
#   bench/run.sh fanout [wf-bench args]
#   bench/run.sh pickup [wf-bench args]
#   bench/run.sh submit [wf-bench args]    (starts no engine: API ingest only)
#   bench/run.sh waiting [wf-bench args]   e.g. bench/run.sh waiting -n 10000 --hold-s 20
#   bench/run.sh backlog [wf-bench args]   e.g. bench/run.sh backlog -n 100000 (queued with
#                                          the engine stopped, then drained by one engine)
#   bench/run.sh peers  N K C              reference queues (/work/shared/peers/run.sh)
#
# Starts PostgreSQL and Redis on free ports in a temporary directory (lib.sh defaults:
# fsync and synchronous_commit on, Redis appendonly), then wf-api and one wf-engine from
# the build directory (WF_BUILD_DIR, default <repo>/build) with WF_LOG_LEVEL=warn and a
# temporary templates folder, runs the scenario and tears everything down on exit.
# Environment: WF_BENCH_KEEP=1 keeps the temporary directory (logs) afterwards;
# WF_PEERS_DIR overrides the peers' directory.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../deploy/local/lib.sh source-path=SCRIPTDIR
source "${here}/../deploy/local/lib.sh"
repo="$(wf_repo_root)"
build="${WF_BUILD_DIR:-${repo}/build}"
peers_dir="${WF_PEERS_DIR:-/work/shared/peers}"

scenario="${1:-}"
[[ -n "${scenario}" ]] || { sed -n 3,19p "${BASH_SOURCE[0]}" >&2; exit 2; }
shift

case "${scenario}" in
  chain | hop | fanout | pickup | submit | waiting | backlog | peers) ;;
  *) wf_die "unknown scenario: ${scenario}"; exit 2 ;;
esac

if [[ "${scenario}" != peers ]]; then
  for bin in services/api/wf-api services/engine/wf-engine bench/wf-bench; do
    [[ -x "${build}/${bin}" ]] || { wf_die "${build}/${bin} is missing; build first"; exit 1; }
  done
fi

# world-traversable so the postgres user can reach the data dir when run as root
tmp="$(mktemp -d /tmp/wf-bench.XXXXXX)" || exit 1
chmod 755 "${tmp}"
# shellcheck disable=SC2317 # called through the EXIT trap
cleanup() {
  wf_stop_pidfile "${tmp}/run/wf-engine.pid" wf-engine || true
  wf_stop_pidfile "${tmp}/run/wf-api.pid" wf-api || true
  wf_redis_stop "${tmp}/redis" || true
  wf_pg_stop "${tmp}/pg" || true
  if [[ "${WF_BENCH_KEEP:-0}" == 1 ]]; then
    wf_log "kept ${tmp}"
  else
    rm -rf "${tmp}"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_port="$(wf_free_port)" || exit 1
redis_port="$(wf_free_port)" || exit 1
wf_pg_start "${tmp}/pg" "${pg_port}" || exit 1
wf_redis_start "${tmp}/redis" "${redis_port}" || exit 1

if [[ "${scenario}" == peers ]]; then
  PGHOST=127.0.0.1 PGPORT="${pg_port}" REDIS_PORT="${redis_port}" \
    "${peers_dir}/run.sh" "${1:-2000}" "${2:-5}" "${3:-10}"
  exit $?
fi

api_port="$(wf_free_port)" || exit 1
mkdir -p "${tmp}/templates" "${tmp}/logs" "${tmp}/run"
export WF_DATABASE_URL="postgresql://postgres@127.0.0.1:${pg_port}/wf"
export WF_REDIS_URL="redis://127.0.0.1:${redis_port}"
export WF_TEMPLATES_DIR="${tmp}/templates"
export WF_LOG_LEVEL=warn
export WF_API_PORT="${api_port}"
export WF_API_URL="http://127.0.0.1:${api_port}"
# The API runs with auth on, as in production: an admin token for wf-bench and curl.
WF_TOKEN="$(openssl rand -hex 24)"
export WF_TOKEN
printf 'tokens:\n  - {name: bench, role: admin, sha256: %s}\n' \
  "$(printf '%s' "${WF_TOKEN}" | sha256sum | cut -d' ' -f1)" >"${tmp}/tokens.yaml"
export WF_API_TOKENS_FILE="${tmp}/tokens.yaml"

# The waiting scenario keeps every request in flight at once (10,000 by default).
if [[ "${scenario}" == waiting ]]; then
  export WF_ENGINE_MAX_INFLIGHT="${WF_ENGINE_MAX_INFLIGHT:-20000}"
fi

start_engine() {
  wf_start_bg "${tmp}/run/wf-engine.pid" "${tmp}/logs/wf-engine.log" \
    "${build}/services/engine/wf-engine" || return 1
  # wait until the engine shows up in presence
  for ((i = 0; i < 100; i++)); do
    curl -s -H "Authorization: Bearer ${WF_TOKEN}" "${WF_API_URL}/v1/services" | grep -q '"engine"' && return 0
    wf_pidfile_pid "${tmp}/run/wf-engine.pid" >/dev/null || { tail -n 20 "${tmp}/logs/wf-engine.log" >&2; return 1; }
    sleep 0.2
  done
}

# Sizes of the two big tables and their indexes, as one JSON line.
table_sizes() {
  wf_psql "${pg_port}" -d wf -tAc "SELECT json_build_object('phase', '$1',
    'requests_bytes', pg_total_relation_size('requests'),
    'requests_index_bytes', pg_indexes_size('requests'),
    'task_runs_bytes', pg_total_relation_size('task_runs'),
    'task_runs_index_bytes', pg_indexes_size('task_runs'),
    'requests_dead_tuples', (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'requests'),
    'task_runs_dead_tuples', (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'task_runs'),
    'requests_autovacuums', (SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'requests'),
    'task_runs_autovacuums', (SELECT autovacuum_count FROM pg_stat_user_tables WHERE relname = 'task_runs'))"
}

wf_start_bg "${tmp}/run/wf-api.pid" "${tmp}/logs/wf-api.log" "${build}/services/api/wf-api" || exit 1
wf_wait_http "${WF_API_URL}/readyz" 60 "${tmp}/run/wf-api.pid" || { tail -n 20 "${tmp}/logs/wf-api.log" >&2; exit 1; }
bench=("${build}/bench/wf-bench" --api "${WF_API_URL}" --templates "${WF_TEMPLATES_DIR}")
if [[ "${scenario}" == backlog ]]; then
  # Queue the backlog with no engine running, then start one and let it drain.
  "${bench[@]}" backlog --phase submit "$@" || exit 1
  table_sizes before
  start_engine || exit 1
  "${bench[@]}" backlog --phase drain "$@"
  rc=$?
  table_sizes after
  # WF_BENCH_SETTLE_S=N: N seconds later, again (has autovacuum caught up with the drain?).
  if [[ "${WF_BENCH_SETTLE_S:-0}" -gt 0 ]]; then
    sleep "${WF_BENCH_SETTLE_S}"
    table_sizes "after ${WF_BENCH_SETTLE_S} s"
  fi
elif [[ "${scenario}" == submit ]]; then
  "${bench[@]}" submit "$@"
  rc=$?
else
  start_engine || exit 1
  extra=()
  if [[ "${scenario}" == waiting ]]; then
    extra=(--engine-pid "$(wf_pidfile_pid "${tmp}/run/wf-engine.pid")")
  fi
  "${bench[@]}" "${scenario}" "${extra[@]}" "$@"
  rc=$?
fi
if [[ ${rc} -ne 0 ]]; then
  wf_warn "wf-bench failed (${rc}); last engine/api log lines:"
  tail -n 10 "${tmp}/logs/"*.log >&2 2>/dev/null || true
fi
exit "${rc}"
