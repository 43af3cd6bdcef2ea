#!/bin/bash
# onefile's container entrypoint (deploy/Dockerfile installs it as
# /usr/local/bin/onefile-entrypoint).
#
#   onefile-entrypoint [serve [FLAGS]]   migrate, then exec `onefile serve` (the default)
#   onefile-entrypoint healthcheck       GET /healthz on ONEFILE_LISTEN: exit 0 on 200, else 1
#   onefile-entrypoint maintenance       stay up without serving, so the file is free
#                                        for `onefile restore` (docs/operations.md)
#   onefile-entrypoint COMMAND [ARGS]    any other onefile command (check, backup, ...)
#
# Started as root (Docker and Fly.io do), it first hands the database's directory to the
# unprivileged account ONEFILE_RUN_AS (default: onefile) -- a fresh Fly volume or a bind
# mount belongs to root, and a command run as root over `fly ssh console` leaves
# root-owned files behind -- then re-executes itself as that account with setpriv(1).
# So neither migrate nor serve ever runs as root. Started as another user
# (`docker run --user 10001:10001`), it stays that user and changes no ownership.
#
# serve is exec'd, not run as a child: it becomes PID 1 and receives SIGTERM itself, then
# stops as README "Stopping" says (in-flight requests finish, the writer drains, the WAL is
# checkpointed into the file, exit 0). A shell left waiting in between would swallow the
# signal: as PID 1 it has no default action for SIGTERM.
set -euo pipefail

self=$(readlink -f -- "${BASH_SOURCE[0]}")

# One JSON line on stderr, in the shape of onefile's own log lines.
log() {
    local level=$1 msg=${2//\\/\\\\}
    msg=${msg//\"/\\\"}
    printf '{"ts":"%s","level":"%s","msg":"%s","source":"entrypoint"}\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$level" "$msg" >&2
}

die() {
    log error "$1"
    exit 2
}

# GET /healthz over bash's /dev/tcp: the image needs no curl, and the probe runs nothing
# but this shell. The address is ONEFILE_LISTEN's, with a wildcard replaced by loopback.
healthcheck() {
    local listen=${ONEFILE_LISTEN:-127.0.0.1:8080}
    local host=${listen%:*} port=${listen##*:} status=""
    host=${host#[}
    host=${host%]}
    case $host in
    0.0.0.0 | "") host=127.0.0.1 ;;
    ::) host=::1 ;;
    esac
    { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || exit 1
    printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
    IFS= read -r -t 5 status <&3 || exit 1
    [[ $status == "HTTP/1."[01]" 200 "* ]] || exit 1
    exit 0
}

# As root: give the data directory to the server's account, then become that account.
drop_privileges() {
    local user=${ONEFILE_RUN_AS:-onefile} group dir
    id -u -- "$user" >/dev/null 2>&1 || die "user '$user' does not exist (ONEFILE_RUN_AS)"
    [[ $(id -u -- "$user") != 0 ]] || die "refusing to run onefile as root (ONEFILE_RUN_AS=$user)"
    group=$(id -gn -- "$user")
    dir=$(dirname -- "${ONEFILE_DB:-./data/onefile.db}")
    dir=$(readlink -m -- "$dir")
    [[ $dir != / ]] || die "ONEFILE_DB must not be at the root of the filesystem"
    mkdir -p -- "$dir"
    # Only entries not already owned, on this file system only: cheap when all is well.
    find "$dir" -xdev \( ! -user "$user" -o ! -group "$group" \) \
        -exec chown -h -- "$user:$group" {} +
    exec setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
        -- "$self" "$@"
}

cmd=${1:-serve}
[[ $# -eq 0 ]] || shift

# The probe touches no file, so it runs as whoever the container runtime runs it as.
[[ $cmd != healthcheck ]] || healthcheck

[[ $(id -u) != 0 ]] || drop_privileges "$cmd" "$@"

case $cmd in
serve)
    # A stop asked for while migrations run: let them finish (they are all-or-none
    # anyway), then exit instead of starting to serve.
    trap 'log warn "stop requested during migrate: not starting serve"; exit 143' TERM INT
    log info "migrate: $(id -un) on ${ONEFILE_DB:-./data/onefile.db}"
    onefile migrate "$@" || {
        rc=$?
        log error "migrate failed (exit $rc): not serving"
        exit "$rc"
    }
    trap - TERM INT
    exec onefile serve "$@"
    ;;
maintenance)
    log warn "maintenance: not serving; the database is free for restore. Leave by restarting with the default command (serve)."
    sleeper=""
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM INT
    while :; do
        sleep 3600 &
        sleeper=$!
        wait "$sleeper" || true
    done
    ;;
*)
    exec onefile "$cmd" "$@"
    ;;
esac
