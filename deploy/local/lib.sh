# shellcheck shell=bash
#
# deploy/local/lib.sh — shared helpers for the local stack and test scripts.
#
# Source it, don't run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Functions (all prefixed wf_):
#   wf_log / wf_warn / wf_error    messages on stderr
#   wf_die MSG                     print an error and return 1
#   wf_repo_root                   absolute path of the repository
#   wf_install_deps                apt-get install whatever is missing
#   wf_build [build_dir]           configure (Release) and build with CMake
#   wf_free_port                   print a free TCP port on 127.0.0.1
#   wf_port_in_use PORT            true if something accepts TCP on 127.0.0.1:PORT
#   wf_pid_alive PID [PATTERN]     true if PID is a live (non-zombie) process
#   wf_pidfile_pid PIDFILE [PAT]   print the pid of a live process from a pid file
#   wf_start_bg PIDFILE LOG CMD..  start CMD detached, log to LOG, pid to PIDFILE
#   wf_stop_pidfile PIDFILE [PAT]  TERM, wait up to 15 s, then KILL
#   wf_wait_http URL TIMEOUT [PIDFILE...]  wait until URL answers HTTP 200
#   wf_pg_bindir [DATADIR]         PostgreSQL bin dir (matching DATADIR if given)
#   wf_pg_running DATADIR          true if the cluster in DATADIR is running
#   wf_pg_start DATADIR PORT       init (if needed) and start a private cluster
#   wf_pg_stop DATADIR             stop the cluster in DATADIR (if running)
#   wf_redis_running DIR           true if the Redis in DIR is running
#   wf_redis_start DIR PORT        start a private Redis in DIR
#   wf_redis_stop DIR              stop the Redis in DIR (by pid file only)
#
# Every function reports failure through its return status and does not rely
# on the caller's `set -e`, so they can also be used in `if` conditions.

# Guard against double sourcing.
if [[ -n "${WF_LIB_SOURCED:-}" ]]; then
  return 0
fi
WF_LIB_SOURCED=1

# Packages the project needs to build, test and run locally (Debian 12).
WF_APT_PACKAGES=(
  build-essential cmake ccache pkg-config
  libpqxx-dev libhiredis-dev libcpp-httplib-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libyaml-cpp-dev libcurl4-openssl-dev libssl-dev
  libvalijson-dev libcli11-dev libgtest-dev libgmock-dev clang libclang-rt-14-dev
  postgresql redis-server curl jq util-linux openssl rsyslog
  libarchive-dev
)

# Seconds to wait for a process to exit after SIGTERM before sending SIGKILL.
WF_STOP_TIMEOUT="${WF_STOP_TIMEOUT:-15}"

# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------

wf_log() { printf '[wf] %s\n' "$*" >&2; }
wf_warn() { printf '[wf] WARNING: %s\n' "$*" >&2; }
wf_error() { printf '[wf] ERROR: %s\n' "$*" >&2; }
# Print an error and return 1 (use as: cmd || wf_die "..." || return 1).
wf_die() {
  wf_error "$@"
  return 1
}

# Absolute path of the repository (two levels above this file).
wf_repo_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}

# Run a command as root: directly when we are root, through sudo otherwise.
wf_as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    wf_die "need root privileges for '$*' but sudo is not installed"
  fi
}

# ---------------------------------------------------------------------------
# Dependencies and build
# ---------------------------------------------------------------------------

# Install the missing packages of WF_APT_PACKAGES. Does nothing (and does not
# touch the network) when everything is installed already.
wf_install_deps() {
  local pkg status
  local -a missing=()
  for pkg in "${WF_APT_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Abbrev}' "${pkg}" 2>/dev/null || true)"
    if [[ "${status}" != ii* ]]; then
      missing+=("${pkg}")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    wf_log "all system packages are installed"
    return 0
  fi

  wf_log "installing missing packages: ${missing[*]}"
  # Non-interactive: no debconf prompts, keep existing config files.
  local -a apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q
    -o Acquire::Retries=3
    -o Dpkg::Options::=--force-confdef
    -o Dpkg::Options::=--force-confold)
  wf_as_root "${apt[@]}" update || wf_die "apt-get update failed" || return 1
  wf_as_root "${apt[@]}" install --no-install-recommends "${missing[@]}" \
    || wf_die "apt-get install failed for: ${missing[*]}" || return 1
}

# Configure and build the project. CMake picks up ccache by itself.
wf_build() {
  local root build
  root="$(wf_repo_root)"
  build="${1:-${root}/build}"
  wf_log "configuring ${root} in ${build}"
  cmake -S "${root}" -B "${build}" -DCMAKE_BUILD_TYPE=Release \
    || wf_die "cmake configure failed (build dir: ${build})" || return 1
  wf_log "building in ${build}"
  cmake --build "${build}" -j2 \
    || wf_die "build failed (build dir: ${build})" || return 1
}

# ---------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------

# True if something accepts TCP connections on 127.0.0.1:PORT.
wf_port_in_use() {
  local port="$1"
  (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null
}

# Print a TCP port that is free on 127.0.0.1 right now.
wf_free_port() {
  local port
  if command -v python3 >/dev/null 2>&1 &&
    port="$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null)" && [[ "${port}" =~ ^[0-9]+$ ]]; then
    printf '%s\n' "${port}"
    return 0
  fi
  # Fallback without python3: probe random ports in the dynamic range.
  local i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 40000))
    if ! wf_port_in_use "${port}"; then
      printf '%s\n' "${port}"
      return 0
    fi
  done
  wf_die "could not find a free TCP port"
}

# ---------------------------------------------------------------------------
# Processes and pid files
# ---------------------------------------------------------------------------

# True if PID is a live process (zombies count as dead). With PATTERN, the
# process command line must also contain PATTERN: this protects against a
# stale pid file whose pid now belongs to an unrelated process.
wf_pid_alive() {
  local pid="$1" pattern="${2:-}" stat state cmdline
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  stat="$(cat "/proc/${pid}/stat" 2>/dev/null)" || return 1
  state="${stat##*) }"
  state="${state%% *}"
  [[ "${state}" != Z && "${state}" != X ]] || return 1
  if [[ -n "${pattern}" ]]; then
    cmdline="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null)" || return 1
    [[ "${cmdline}" == *"${pattern}"* ]] || return 1
  fi
  return 0
}

# Print the pid stored in PIDFILE (first line) if that process is alive.
wf_pidfile_pid() {
  local pidfile="$1" pattern="${2:-}" pid=""
  [[ -s "${pidfile}" ]] || return 1
  read -r pid <"${pidfile}" || [[ -n "${pid}" ]] || return 1
  wf_pid_alive "${pid}" "${pattern}" || return 1
  printf '%s\n' "${pid}"
}

# Start CMD... in the background, detached from this terminal and session
# (Ctrl-C in the calling shell does not reach it), with stdout/stderr appended
# to LOGFILE and its pid written to PIDFILE.
wf_start_bg() {
  local pidfile="$1" logfile="$2"
  shift 2
  [[ $# -gt 0 ]] || wf_die "wf_start_bg: no command given" || return 1
  mkdir -p "$(dirname "${pidfile}")" "$(dirname "${logfile}")" || return 1
  rm -f "${pidfile}"
  # The inner shell writes its own pid and then execs the command, so the pid
  # file holds the pid of the command itself.
  # shellcheck disable=SC2016 # $$ and $1 are expanded by the inner shell
  setsid -f bash -c 'echo "$$" >"$1.tmp" && mv -f "$1.tmp" "$1"; shift; exec "$@"' \
    wf-start "${pidfile}" "$@" >>"${logfile}" 2>&1 </dev/null \
    || wf_die "could not start: $*" || return 1
  # Wait (briefly) for the pid file to appear.
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "${pidfile}" ]] && return 0
    sleep 0.1
  done
  wf_die "no pid file ${pidfile} after starting: $*"
}

# Wait until PID has exited, up to TIMEOUT seconds. Returns 1 on timeout.
wf_wait_pid_exit() {
  local pid="$1" timeout="$2" i
  for ((i = 0; i < timeout * 10; i++)); do
    wf_pid_alive "${pid}" || return 0
    sleep 0.1
  done
  ! wf_pid_alive "${pid}"
}

# Stop the process whose pid is in PIDFILE: SIGTERM, wait up to
# WF_STOP_TIMEOUT (15) seconds, then SIGKILL. Removes the pid file. Succeeds
# (and does nothing) when the process is not running.
wf_stop_pidfile() {
  local pidfile="$1" pattern="${2:-}" pid
  if ! pid="$(wf_pidfile_pid "${pidfile}" "${pattern}")"; then
    rm -f "${pidfile}"
    return 0
  fi
  kill -TERM "${pid}" 2>/dev/null || true
  if ! wf_wait_pid_exit "${pid}" "${WF_STOP_TIMEOUT}"; then
    wf_warn "pid ${pid} (${pidfile}) did not exit within ${WF_STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "${pid}" 2>/dev/null || true
    wf_wait_pid_exit "${pid}" 5 || wf_die "pid ${pid} survived SIGKILL" || return 1
  fi
  rm -f "${pidfile}"
}

# Wait until URL answers HTTP 200, for at most TIMEOUT seconds. Any extra
# arguments are pid files of processes that must stay alive meanwhile: if one
# of them dies the wait fails at once.
wf_wait_http() {
  local url="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout)) code pidfile
  while ((SECONDS < deadline)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${url}" 2>/dev/null || true)"
    [[ "${code}" == 200 ]] && return 0
    for pidfile in "$@"; do
      wf_pidfile_pid "${pidfile}" >/dev/null \
        || wf_die "process of ${pidfile} exited while waiting for ${url}" || return 1
    done
    sleep 0.5
  done
  wf_die "${url} did not answer 200 within ${timeout}s (last status: ${code:-none})"
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

# Print the PostgreSQL bin directory. With DATADIR holding an initialized
# cluster, the binaries of that cluster's major version; otherwise the highest
# version installed under /usr/lib/postgresql.
wf_pg_bindir() {
  local datadir="${1:-}" ver=""
  if [[ -n "${datadir}" && -f "${datadir}/PG_VERSION" ]]; then
    read -r ver <"${datadir}/PG_VERSION"
    [[ -x "/usr/lib/postgresql/${ver}/bin/postgres" ]] \
      || wf_die "cluster ${datadir} is PostgreSQL ${ver}, whose binaries are not installed" || return 1
  else
    ver="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null \
      | awk -F/ '{print $5}' | sort -V | tail -n 1)"
    [[ -n "${ver}" ]] || wf_die "no PostgreSQL server found under /usr/lib/postgresql" || return 1
  fi
  printf '/usr/lib/postgresql/%s/bin\n' "${ver}"
}

# Run a PostgreSQL server program (initdb, pg_ctl). They refuse to run as
# root, so as root they run as the `postgres` system user.
wf_pg_run() {
  if [[ ${EUID} -eq 0 ]]; then
    # cd / so that the postgres user is never left in an unreadable cwd.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# True if the cluster in DATADIR is running.
wf_pg_running() {
  local datadir="$1" bindir
  [[ -f "${datadir}/postmaster.pid" ]] || return 1
  bindir="$(wf_pg_bindir "${datadir}" 2>/dev/null)" || return 1
  wf_pg_run "${bindir}/pg_ctl" status -D "${datadir}" >/dev/null 2>&1
}

# Run psql against 127.0.0.1:PORT as the postgres superuser.
wf_psql() {
  local port="$1"
  shift
  PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${port}" -U postgres "$@"
}

# Create (if missing) and start a private PostgreSQL cluster in DATADIR,
# listening on 127.0.0.1:PORT only, unix socket inside DATADIR, trust auth,
# superuser `postgres`. Then create the database `wf` if missing.
wf_pg_start() {
  local datadir="$1" port="$2" bindir logfile conf running_port
  [[ -n "${datadir}" && "${port}" =~ ^[0-9]+$ ]] \
    || wf_die "usage: wf_pg_start DATADIR PORT" || return 1

  mkdir -p "${datadir}" || return 1
  datadir="$(cd "${datadir}" && pwd)" || return 1
  logfile="${datadir}/postgresql.log"

  # Unix socket paths are limited to 107 bytes.
  if ((${#datadir} + ${#port} + 12 > 107)); then
    wf_die "PostgreSQL data dir path is too long for its unix socket: ${datadir}" || return 1
  fi

  if wf_pg_running "${datadir}"; then
    running_port="$(sed -n 4p "${datadir}/postmaster.pid")"
    if [[ "${running_port}" != "${port}" ]]; then
      wf_die "PostgreSQL in ${datadir} is already running on port ${running_port}, not ${port}" || return 1
    fi
    wf_log "PostgreSQL already running in ${datadir} (port ${port})"
  else
    if wf_port_in_use "${port}"; then
      wf_die "port ${port} on 127.0.0.1 is already in use; choose another PostgreSQL port" || return 1
    fi
    bindir="$(wf_pg_bindir "${datadir}")" || return 1

    if [[ ${EUID} -eq 0 ]]; then
      # As root the server runs as `postgres`, which must own the data dir
      # and be able to reach it through every parent directory.
      id postgres >/dev/null 2>&1 \
        || wf_die "system user 'postgres' does not exist (is the postgresql package installed?)" || return 1
      chown postgres:postgres "${datadir}" && chmod 700 "${datadir}" || return 1
      if ! runuser -u postgres -- test -w "${datadir}" -a -x "${datadir}"; then
        wf_die "the 'postgres' user cannot reach ${datadir}: one of its parent directories is" \
          "not traversable by other users (e.g. /root has mode 700). Put the data somewhere" \
          "world-traversable, e.g. WF_HOME=/var/tmp/wf, or chmod o+x the parent directories." || return 1
      fi
    fi

    if [[ ! -f "${datadir}/PG_VERSION" ]]; then
      wf_log "initializing PostgreSQL cluster in ${datadir}"
      wf_pg_run "${bindir}/initdb" -D "${datadir}" -U postgres -E UTF8 --no-locale \
        --auth-local=trust --auth-host=trust >"${datadir}.initdb.log" 2>&1 \
        || { cat "${datadir}.initdb.log" >&2; wf_error "initdb failed for ${datadir}"; return 1; }
      rm -f "${datadir}.initdb.log"
    fi

    # Our settings live in wf.conf, included from postgresql.conf and
    # rewritten at every start (so a changed port is picked up). Durability
    # settings (fsync, synchronous_commit, ...) keep their safe defaults.
    conf="${datadir}/wf.conf"
    {
      echo "# Written by deploy/local/lib.sh (wf_pg_start); rewritten at every start."
      echo "listen_addresses = '127.0.0.1'"
      echo "port = ${port}"
      echo "unix_socket_directories = '${datadir//\'/\'\'}'"
      echo "max_connections = 200"
      echo "shared_buffers = 128MB"
    } >"${conf}" || return 1
    if ! grep -q "^include_if_exists = 'wf.conf'" "${datadir}/postgresql.conf"; then
      echo "include_if_exists = 'wf.conf'" >>"${datadir}/postgresql.conf" || return 1
    fi
    # Local socket and loopback TCP connections are trusted; nothing else.
    cat >"${datadir}/pg_hba.conf" <<'EOF' || return 1
# Written by deploy/local/lib.sh (wf_pg_start).
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
host    all          all   127.0.0.1/32   trust
local   replication  all                  trust
host    replication  all   127.0.0.1/32   trust
EOF
    if [[ ${EUID} -eq 0 ]]; then
      chown postgres:postgres "${conf}" "${datadir}/pg_hba.conf" || return 1
      touch "${logfile}" && chown postgres:postgres "${logfile}" || return 1
    fi

    wf_log "starting PostgreSQL on 127.0.0.1:${port} (data: ${datadir}, log: ${logfile})"
    if ! wf_pg_run "${bindir}/pg_ctl" start -D "${datadir}" -l "${logfile}" -w -t 60 >/dev/null; then
      tail -n 30 "${logfile}" >&2 || true
      wf_die "PostgreSQL did not start; log: ${logfile}" || return 1
    fi
  fi

  # Create the application database if it does not exist yet.
  local exists
  exists="$(wf_psql "${port}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'wf'")" \
    || wf_die "cannot connect to PostgreSQL on 127.0.0.1:${port}; log: ${logfile}" || return 1
  if [[ "${exists}" != 1 ]]; then
    wf_log "creating database wf"
    wf_psql "${port}" -d postgres -c 'CREATE DATABASE wf' \
      || wf_die "could not create database wf" || return 1
  fi
}

# Stop the cluster in DATADIR (fast shutdown) if it is running.
wf_pg_stop() {
  local datadir="$1" bindir
  [[ -n "${datadir}" ]] || wf_die "usage: wf_pg_stop DATADIR" || return 1
  if ! wf_pg_running "${datadir}"; then
    return 0
  fi
  bindir="$(wf_pg_bindir "${datadir}")" || return 1
  wf_log "stopping PostgreSQL in ${datadir}"
  wf_pg_run "${bindir}/pg_ctl" stop -D "${datadir}" -m fast -w -t 60 >/dev/null \
    || wf_die "pg_ctl stop failed for ${datadir}; log: ${datadir}/postgresql.log" || return 1
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

# True if the Redis server of DIR is running.
wf_redis_running() {
  wf_pidfile_pid "$1/redis.pid" redis-server >/dev/null
}

# Start a private Redis in DIR (config, pid file, log, AOF and RDB files all
# inside DIR), bound to 127.0.0.1:PORT, and wait until it answers PING.
wf_redis_start() {
  local dir="$1" port="$2" conf pidfile logfile
  [[ -n "${dir}" && "${port}" =~ ^[0-9]+$ ]] \
    || wf_die "usage: wf_redis_start DIR PORT" || return 1
  mkdir -p "${dir}" || return 1
  dir="$(cd "${dir}" && pwd)" || return 1
  conf="${dir}/redis.conf"
  pidfile="${dir}/redis.pid"
  logfile="${dir}/redis.log"

  if wf_redis_running "${dir}"; then
    wf_log "Redis already running in ${dir}"
  else
    if wf_port_in_use "${port}"; then
      wf_die "port ${port} on 127.0.0.1 is already in use; choose another Redis port" || return 1
    fi
    rm -f "${pidfile}"
    # Paths are double-quoted for Redis' config parser.
    cat >"${conf}" <<EOF || return 1
# Written by deploy/local/lib.sh (wf_redis_start); rewritten at every start.
bind 127.0.0.1
port ${port}
protected-mode no
daemonize yes
pidfile "${pidfile}"
logfile "${logfile}"
dir "${dir}"
appendonly yes
EOF
    wf_log "starting Redis on 127.0.0.1:${port} (dir: ${dir}, log: ${logfile})"
    redis-server "${conf}" </dev/null \
      || { tail -n 20 "${logfile}" >&2 2>/dev/null; wf_error "redis-server failed to start; log: ${logfile}"; return 1; }
  fi

  # Wait until it answers PING.
  local i reply
  for ((i = 0; i < 300; i++)); do
    reply="$(redis-cli -h 127.0.0.1 -p "${port}" ping 2>/dev/null || true)"
    [[ "${reply}" == PONG ]] && return 0
    sleep 0.1
  done
  tail -n 20 "${logfile}" >&2 2>/dev/null || true
  wf_die "Redis on 127.0.0.1:${port} did not answer PING within 30s; log: ${logfile}"
}

# Stop the Redis of DIR through its pid file (never by process name).
wf_redis_stop() {
  local dir="$1"
  [[ -n "${dir}" ]] || wf_die "usage: wf_redis_stop DIR" || return 1
  if wf_redis_running "${dir}"; then
    wf_log "stopping Redis in ${dir}"
  fi
  wf_stop_pidfile "${dir}/redis.pid" redis-server
}
