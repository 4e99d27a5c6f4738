# Sourced by .ci/run: a throwaway PostgreSQL cluster for the journal tests.
#
# start_test_postgres installs Debian's postgresql when its binaries are missing, initdb's a
# cluster in a temporary directory as a non-root user, starts it on 127.0.0.1 on a free port
# and exports CLOSEOUT_TEST_POSTGRES_URL (and CLOSEOUT_REQUIRE_POSTGRES=1, so the tests fail
# rather than skip if it is ever missing). It stops the cluster and removes the directory on
# exit, after any EXIT trap set before it.

start_test_postgres() {
    local bindir
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bindir" ]; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
        else
            sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
        fi
        bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    PG_TEST_DIR=$(mktemp -d /tmp/closeout-pg.XXXXXX)
    local as_user=()
    if [ "$(id -u)" = 0 ]; then  # initdb refuses to run as root
        chown postgres: "$PG_TEST_DIR"
        as_user=(runuser -u postgres --)
    fi
    pushd / >/dev/null  # the postgres user may not enter the current folder
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as_user[@]}" "$bindir/initdb" -D "$PG_TEST_DIR/data" -U closeout -A trust \
        --no-instructions >"$PG_TEST_DIR/initdb.log"
    "${as_user[@]}" "$bindir/pg_ctl" -D "$PG_TEST_DIR/data" -l "$PG_TEST_DIR/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TEST_DIR" start >/dev/null
    PG_TEST_CTL=("${as_user[@]}" "$bindir/pg_ctl" -D "$PG_TEST_DIR/data")
    local previous
    previous=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
    # shellcheck disable=SC2064
    trap "stop_test_postgres; ${previous}" EXIT
    "${as_user[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U closeout closeout_test
    popd >/dev/null
    export CLOSEOUT_TEST_POSTGRES_URL="postgresql://closeout@127.0.0.1:$port/closeout_test"
    export CLOSEOUT_REQUIRE_POSTGRES=1
    echo "test PostgreSQL: $CLOSEOUT_TEST_POSTGRES_URL"
}

stop_test_postgres() {
    if [ -n "${PG_TEST_DIR:-}" ]; then
        (cd / && "${PG_TEST_CTL[@]}" stop -m immediate >/dev/null 2>&1) || true
        rm -rf "$PG_TEST_DIR"
        PG_TEST_DIR=
    fi
}
