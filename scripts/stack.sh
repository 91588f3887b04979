# Shared by scripts/serve, scripts/test, scripts/bench and Tests/harness/with-stack.sh (sourced, not run):
# installing prerequisites, and starting and stopping Postgres, the supervised responders and nginx.
# Every start function records what it started so that stack_stop_all stops exactly that, by PID.

STACK_APT_PACKAGES="libfcgi-dev libpq-dev libssl-dev pkg-config postgresql nginx spawn-fcgi multiwatch curl openssl procps iproute2 ca-certificates"
STACK_PIDS=()
STACK_PG_DATA=""

stack_log() { printf '%s\n' "$*" >&2; }

# Runs a command as root: directly when we are root, through sudo otherwise.
stack_as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages that are missing (idempotent; nothing happens when all are present).
stack_install_packages() {
    local missing=() package
    for package in $STACK_APT_PACKAGES "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    stack_log "installing: ${missing[*]}"
    stack_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    stack_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The newest PostgreSQL server binaries installed.
stack_pg_bindir() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# Postgres refuses to run as root, so as root the cluster belongs to the 'postgres' system user.
stack_pg_user() {
    if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi
}

stack_as_pg_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# stack_start_postgres DATA_DIR SOCKET_DIR [extra postgres -c settings...]
# Creates the cluster when DATA_DIR is empty, then starts it listening on a unix socket only.
stack_start_postgres() {
    local data=$1 socket=$2; shift 2
    local bin; bin=$(stack_pg_bindir)
    [ -n "$bin" ] || { stack_log "no PostgreSQL server found under /usr/lib/postgresql"; return 1; }
    mkdir -p "$data" "$socket"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$data" "$socket"
        if ! runuser -u postgres -- test -x "$data"; then
            stack_log "the postgres user cannot reach $data; put the checkout where other users can traverse it"
            return 1
        fi
    fi
    chmod 700 "$data"
    if [ ! -f "$data/PG_VERSION" ]; then
        stack_as_pg_user "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null
    fi
    local options="-c listen_addresses='' -k $socket -c unix_socket_permissions=0777 -p 5432"
    local setting
    for setting in "$@"; do options+=" -c $setting"; done
    stack_as_pg_user "$bin/pg_ctl" -D "$data" -w -t 60 -l "$data/postgres.log" -o "$options" start >/dev/null
    STACK_PG_DATA=$data
}

stack_stop_postgres() {
    [ -n "$STACK_PG_DATA" ] || return 0
    stack_as_pg_user "$(stack_pg_bindir)/pg_ctl" -D "$STACK_PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
    STACK_PG_DATA=""
}

# stack_psql SOCKET_DIR DATABASE ARGS... as the superuser.
stack_psql() {
    local socket=$1 database=$2; shift 2
    psql -X -q -v ON_ERROR_STOP=1 -h "$socket" -p 5432 -U postgres -d "$database" "$@"
}

# stack_prepare_database SOCKET_DIR DATABASE: creates the database and the responders' login role when missing.
stack_prepare_database() {
    local socket=$1 database=$2
    if ! stack_psql "$socket" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
        stack_psql "$socket" postgres -c "CREATE DATABASE $database"
    fi
}

# stack_grant_app_role SOCKET_DIR DATABASE: the login role 'switchyard' the programs use, a member of the
# switchyard_app group that the migrations create and grant.
stack_grant_app_role() {
    local socket=$1 database=$2
    stack_psql "$socket" "$database" <<'SQL'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'switchyard') THEN
        CREATE ROLE switchyard LOGIN IN ROLE switchyard_app;
    END IF;
END
$$;
SQL
}

# stack_start_responders SOCKET PROCESSES BINARY: spawn-fcgi binds the socket, multiwatch keeps PROCESSES
# copies of BINARY alive (restarting each one that exits) and passes TERM on to them when it is stopped.
# multiwatch gives a child up after 3 deaths in a row within STACK_RESPAWN_WINDOW_MS (1000) of its start, so
# a responder that cannot start (bad configuration) does not spin; max-requests must keep lifetimes longer.
# The SWITCHYARD_* variables of the caller's environment configure the responders.
stack_start_responders() {
    local socket=$1 processes=$2 binary=$3
    rm -f "$socket"
    SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no} spawn-fcgi -n -s "$socket" -M 0666 -- \
        /usr/bin/multiwatch -f "$processes" -r 3 -t "${STACK_RESPAWN_WINDOW_MS:-1000}" -s TERM -- "$binary" &
    STACK_RESPONDERS_PID=$!
    STACK_PIDS+=("$STACK_RESPONDERS_PID")
    local waited=0
    until [ -S "$socket" ]; do
        sleep 0.05; waited=$((waited + 1))
        [ $waited -lt 200 ] || { stack_log "the FastCGI socket $socket did not appear"; return 1; }
    done
}

# stack_render_nginx RUN_DIR LISTEN WWW_DIR [TLS_PORT CERT KEY CLIENT_CA]: the shipped nginx.conf with the
# paths swapped; with TLS arguments the commented production TLS server is switched on at 127.0.0.1:TLS_PORT.
stack_render_nginx() {
    local run=$1 listen=$2 www=$3 tls_port=${4:-} cert=${5:-} key=${6:-} ca=${7:-}
    local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    mkdir -p "$run/logs"
    local sed_args=(-e "s|/run/switchyard/|$run/|g" -e "s|/srv/switchyard/www|$www|g" -e "s|listen 80;|listen $listen;|")
    if [ -n "$tls_port" ]; then
        # Uncomment the server block's lines ("    #server", "    #    …", "    #}", "    #"), not its prose.
        sed_args+=(-e '/# BEGIN tls-server/,/# END tls-server/ { /^    #\(server\|    \|}\|$\)/ s|^    #|    | }'
            -e "s|listen 443 ssl http2;|listen 127.0.0.1:$tls_port ssl http2;|"
            -e "s|/etc/switchyard/tls/server.crt|$cert|" -e "s|/etc/switchyard/tls/server.key|$key|"
            -e "s|/etc/switchyard/tls/clients-ca.crt|$ca|")
    fi
    sed "${sed_args[@]}" "$root/nginx.conf" > "$run/nginx.conf"
}

# stack_start_nginx RUN_DIR: runs nginx in the foreground (backgrounded here) on the rendered config.
stack_start_nginx() {
    local run=$1
    local globals="daemon off; pid $run/nginx.pid;"
    # As root the workers would otherwise run as 'nobody', who cannot read a checkout under a private directory.
    [ "$(id -u)" = 0 ] && globals+=" user root;"
    nginx -t -q -p "$run" -c "$run/nginx.conf" -e stderr -g "$globals"
    nginx -p "$run" -c "$run/nginx.conf" -e "$run/logs/error.log" -g "$globals" &
    STACK_PIDS+=("$!")
}

# stack_wait_http URL: waits until URL answers (any status) or fails after 15 s.
stack_wait_http() {
    local url=$1 waited=0
    until curl -s -o /dev/null "$url"; do
        sleep 0.1; waited=$((waited + 1))
        [ $waited -lt 150 ] || { stack_log "$url did not answer"; return 1; }
    done
}

# stack_free_port FROM: the first TCP port at or above FROM (below 32768) that nothing listens on.
stack_free_port() {
    local port=$1
    while ss -Htln "sport = :$port" | grep -q .; do port=$((port + 1)); done
    [ "$port" -lt 32768 ] || { stack_log "no free port below 32768"; return 1; }
    echo "$port"
}

# stack_every SECONDS COMMAND...: runs COMMAND now and then every SECONDS in the background, as cron would
# (a run that overlaps the next start is the program's business: they all take locks).
stack_every() {
    local seconds=$1; shift
    ( while true; do "$@" || true; sleep "$seconds"; done ) &
    STACK_PIDS+=("$!")
}

# stack_bootstrap_admin BIN KEY_FILE: on first start, the 'admin' principal and a key for it in KEY_FILE (mode 600).
stack_bootstrap_admin() {
    local bin=$1 key_file=$2
    [ -s "$key_file" ] && return 0
    "$bin/switchyardctl" user add admin --role admin --display-name "Administrator" >/dev/null 2>&1 || true
    rm -f "$key_file"
    "$bin/switchyardctl" key issue admin --description "bootstrap admin key" --output "$key_file" >/dev/null
}

# stack_secret_file PATH: a random 48-byte secret (base64) in PATH, mode 600, created once.
stack_secret_file() {
    local path=$1
    [ -s "$path" ] && return 0
    (umask 077 && openssl rand -base64 48 > "$path")
}

# stack_shared_dir NAME: the team's shared folder NAME (qasm, bench): ../shared/NAME next to this checkout, or
# next to one of its parent folders (a clone in a temporary directory), or /work/shared/NAME.
stack_shared_dir() {
    local name=$1 dir
    dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    while [ "$dir" != "/" ]; do
        if [ -d "$dir/../shared/$name" ]; then (cd "$dir/../shared/$name" && pwd); return 0; fi
        dir=$(dirname "$dir")
    done
    [ -d "/work/shared/$name" ] && { echo "/work/shared/$name"; return 0; }
    echo "/nonexistent/shared/$name"
}

# Stops what the start functions started, newest first, then Postgres.
stack_stop_all() {
    local index pid
    for ((index = ${#STACK_PIDS[@]} - 1; index >= 0; index--)); do
        pid=${STACK_PIDS[$index]}
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STACK_PIDS[@]}"; do
        local waited=0
        while kill -0 "$pid" 2>/dev/null && [ $waited -lt 100 ]; do sleep 0.1; waited=$((waited + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
    done
    STACK_PIDS=()
    stack_stop_postgres
}
