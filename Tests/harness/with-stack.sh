#!/usr/bin/env bash
# Tests/harness/with-stack.sh COMMAND...: starts a throwaway stack on loopback, runs COMMAND against it, stops
# everything it started and exits with COMMAND's status.
#
# The stack: a Postgres cluster in a temporary directory (unix socket only, fsync off), migrated by the real
# `switchyardctl migrate`; two switchyard-fcgi processes under spawn-fcgi + multiwatch; nginx on the shipped
# nginx.conf with only paths and the port rewritten, plus its TLS server switched on for the mTLS tests.
# COMMAND sees TEST_* variables describing the stack (listed below). BIN_DIR names the built binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/scripts/stack.sh"
bin=${BIN_DIR:?BIN_DIR must name the directory of the built binaries}

work=$(mktemp -d /tmp/switchyard-test.XXXXXX)
chmod 755 "$work"
trap 'stack_stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

stack_start_postgres "$work/pg" "$work/run" fsync=off synchronous_commit=off full_page_writes=off max_connections=200
stack_prepare_database "$work/run" switchyard
SWITCHYARD_DB_URI="postgresql:///switchyard?host=$work/run&user=postgres" "$bin/switchyardctl" migrate --dir "$root/sql/migrations" >/dev/null
stack_grant_app_role "$work/run" switchyard

# Test certificates: a CA for client certificates, and the server's own certificate for the TLS listener.
tls=$work/tls
mkdir -p "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=switchyard test client CA" \
    -keyout "$tls/client-ca.key" -out "$tls/client-ca.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.crt" 2>/dev/null

# An identity provider's signing keys (RS256 and ES256) that the responders trust, for the token tests.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tls/idp-rsa.key" 2>/dev/null
openssl pkey -in "$tls/idp-rsa.key" -pubout -out "$tls/idp-rsa.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tls/idp-ec.key" 2>/dev/null
openssl pkey -in "$tls/idp-ec.key" -pubout -out "$tls/idp-ec.pub"
stack_secret_file "$work/jwt.secret"

port=$(stack_free_port 21080)
tls_port=$(stack_free_port $((port + 1)))

export SWITCHYARD_DB_URI="postgresql:///switchyard?host=$work/run&user=switchyard"
export SWITCHYARD_JWT_SECRET_FILE=$work/jwt.secret
export SWITCHYARD_JWT_PUBLIC_KEYS="idp-rsa=$tls/idp-rsa.pub,idp-ec=$tls/idp-ec.pub"
export SWITCHYARD_JWT_TRUSTED_ISSUERS="https://idp.test"
export SWITCHYARD_PASSWORD_ITERATIONS=100000
export SWITCHYARD_SIMULATOR_LEASE_S=3    # a killed simulator's job is re-leased within seconds
# Every test request comes from 127.0.0.1: address limits must not get in the way of the per-username ones.
export SWITCHYARD_LOGIN_ADDRESS_ATTEMPTS_PER_MINUTE=100000 SWITCHYARD_LOGIN_ADDRESS_ATTEMPTS_BURST=100000
export SWITCHYARD_MAX_REQUESTS=${SWITCHYARD_MAX_REQUESTS:-1000}
export SWITCHYARD_MAX_BODY_BYTES=${SWITCHYARD_MAX_BODY_BYTES:-1048576}
export STACK_RESPAWN_WINDOW_MS=100
stack_bootstrap_admin "$bin" "$work/admin.key"
stack_psql "$work/run" switchyard -c "UPDATE role SET rate_per_minute = 100000, rate_per_hour = 10000000, rate_burst = 100000 WHERE is_builtin"
stack_start_responders "$work/run/fcgi.sock" 2 "$bin/switchyard-fcgi" 2>>"$work/fcgi.log"
stack_render_nginx "$work/run" "127.0.0.1:$port" "$root/www" "$tls_port" "$tls/server.crt" "$tls/server.key" \
    "$tls/client-ca.crt"
stack_start_nginx "$work/run"
stack_wait_http "http://127.0.0.1:$port/api/v1/health"

pg_ctl_command="$(stack_pg_bindir)/pg_ctl -D $work/pg -w -t 60"
[ "$(id -u)" = 0 ] && pg_ctl_command="runuser -u postgres -- $pg_ctl_command"

# What the tests may use:
export TEST_BASE_URL="http://127.0.0.1:$port"                                  # nginx, plain HTTP
export TEST_TLS_BASE_URL="https://127.0.0.1:$tls_port"                         # nginx, TLS with optional client certs
export TEST_TLS_DIR=$tls                                                        # server.crt, client-ca.{crt,key}
export TEST_DATABASE_URL="postgresql:///switchyard?host=$work/run&user=postgres" # superuser, for test setup
export TEST_APP_DATABASE_URL=$SWITCHYARD_DB_URI                                 # the responders' role
export TEST_PG_STOP="$pg_ctl_command -m fast stop"
export TEST_PG_START="$pg_ctl_command -l $work/pg/postgres.log -o \"-c listen_addresses='' -k $work/run -c unix_socket_permissions=0777 -p 5432 -c fsync=off -c synchronous_commit=off -c max_connections=200\" start"
export TEST_MULTIWATCH_PID=$STACK_RESPONDERS_PID                               # parent of the responders
export TEST_FCGI_SOCKET=$work/run/fcgi.sock                                     # where nginx reaches them
export TEST_RESPONDER_LOG=$work/fcgi.log
export TEST_BIN_DIR=$bin
export TEST_ADMIN_KEY=$(cat "$work/admin.key")                                  # an admin's API key
export TEST_JWT_SECRET_FILE=$SWITCHYARD_JWT_SECRET_FILE                         # the HS256 secret
export TEST_IDP_RSA_KEY=$tls/idp-rsa.key TEST_IDP_EC_KEY=$tls/idp-ec.key        # trusted IdP keys (kid idp-rsa, idp-ec)
export TEST_MAX_REQUESTS=$SWITCHYARD_MAX_REQUESTS
export TEST_MAX_BODY_BYTES=$SWITCHYARD_MAX_BODY_BYTES

set +e
"$@"
status=$?
set -e
if [ $status -ne 0 ] && [ -s "$work/fcgi.log" ]; then
    echo "--- last responder log lines ---" >&2
    grep -v '"level":"info"' "$work/fcgi.log" | tail -n 40 >&2
fi
exit $status
