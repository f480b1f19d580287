#!/usr/bin/env bash
#
# deploy/local/test.sh — build the project and run the whole test suite.
#
#   deploy/local/test.sh [ctest args...]     e.g. deploy/local/test.sh -L unit
#
# Starts a throw-away PostgreSQL and Redis on free ports under a temporary
# directory (always torn down on exit, failure or Ctrl-C) and hands them to
# the tests through:
#   WF_TEST_DATABASE_URL  superuser URL (tests create their own databases)
#   WF_TEST_REDIS_URL
# Extra arguments are passed to ctest. The exit status is ctest's.
#
# Environment: WF_BUILD_DIR (default <repo>/build).

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "${SCRIPT_DIR}/lib.sh"

REPO="$(wf_repo_root)"
BUILD_DIR="${WF_BUILD_DIR:-${REPO}/build}"

TMP_DIR=""

# Tear down the temporary servers, whatever happened. On success the
# temporary directory is removed; on failure it is kept for its logs.
# shellcheck disable=SC2317 # invoked through trap
cleanup() {
  local rc=$?
  # Run once, and do not let a second Ctrl-C interrupt the teardown.
  trap - EXIT
  trap '' INT TERM
  if [[ -n "${TMP_DIR}" && -d "${TMP_DIR}" ]]; then
    wf_redis_stop "${TMP_DIR}/redis" || true
    wf_pg_stop "${TMP_DIR}/pg" || true
    if [[ ${rc} -eq 0 ]]; then
      rm -rf "${TMP_DIR}"
    else
      wf_error "test run failed or was interrupted (exit ${rc}). Logs:"
      wf_error "  PostgreSQL: ${TMP_DIR}/pg/postgresql.log"
      wf_error "  Redis:      ${TMP_DIR}/redis/redis.log"
      wf_error "  ctest:      ${BUILD_DIR}/Testing/Temporary/LastTest.log"
      wf_error "  (temporary directory kept: ${TMP_DIR})"
    fi
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wf_log "== install system packages"
wf_install_deps

wf_log "== build (${BUILD_DIR})"
wf_build "${BUILD_DIR}"

# Temporary home for the servers. As root, PostgreSQL runs as the postgres
# user, which must be able to traverse this directory (wf_pg_start makes the
# data dir itself owned by postgres).
wf_log "== start temporary PostgreSQL and Redis"
TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/wf-test.XXXXXX")"
chmod 755 "${TMP_DIR}"

PG_PORT="$(wf_free_port)"
REDIS_PORT="$(wf_free_port)"
while [[ "${REDIS_PORT}" == "${PG_PORT}" ]]; do
  REDIS_PORT="$(wf_free_port)"
done

wf_pg_start "${TMP_DIR}/pg" "${PG_PORT}"
wf_redis_start "${TMP_DIR}/redis" "${REDIS_PORT}"

export WF_TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:${PG_PORT}/postgres"
export WF_TEST_REDIS_URL="redis://127.0.0.1:${REDIS_PORT}"
wf_log "WF_TEST_DATABASE_URL=${WF_TEST_DATABASE_URL}"
wf_log "WF_TEST_REDIS_URL=${WF_TEST_REDIS_URL}"

wf_log "== ctest"
rc=0
ctest --test-dir "${BUILD_DIR}" --output-on-failure --no-tests=error -j2 "$@" || rc=$?
exit "${rc}"
