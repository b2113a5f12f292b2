#!/usr/bin/env bash
# `make up`: start Berth on this host — the engine, Redis, a Celery worker and
# the console (Daphne) — and print where to sign in.
#
# Run as root from the repository (the engine needs root). Never prompts.
# Running it again is harmless: whatever already runs is left alone, and the
# steps in between (migrate, collectstatic, ensure_admin) are idempotent.
# Everything it writes is under var/ (git-ignored): pidfiles in var/run/, logs
# in var/log/, the SQLite database, secrets, Redis's socket and dump. The
# engine's own state is in /var/lib/berth.
#
# Environment: BERTH_ENGINE_HOST (default unix:///run/berth/engine.sock),
# BERTH_CONSOLE_PORT (default 8000), REDIS_URL (set it to use a Redis of your
# own, e.g. from docker-compose.dev.yml; otherwise one is started on var/redis.sock).
set -euo pipefail
source "$(dirname "$0")/services.sh"
cd "$ROOT"

die() { echo "up: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root: the engine needs it"
[[ -x $PY ]] || die "no virtualenv at $VENV: run \`make up\`, which makes it"
[[ $ENGINE_HOST == unix:///* ]] || die "BERTH_ENGINE_HOST must be unix:///path for make up (got $ENGINE_HOST)"
ENGINE_SOCKET=${ENGINE_HOST#unix://}

mkdir -p "$RUN" "$LOG"
chmod 0700 "$VAR"  # the database, the secret key and the first admin password live here

# The console processes read these; make them agree with what this script starts.
export BERTH_VAR_DIR=$VAR BERTH_ENGINE_HOST=$ENGINE_HOST DJANGO_SETTINGS_MODULE=console.settings
OWN_REDIS=0
if [[ -z ${REDIS_URL:-} ]]; then
    OWN_REDIS=1
    export REDIS_URL=unix://$REDIS_SOCKET
fi

# engine_get PATH: succeed if the engine answers 200 to GET PATH on its socket.
engine_get() {
    "$PY" - "$ENGINE_SOCKET" "$1" <<'EOF'
import http.client, socket, sys

class UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(5)
        self.sock.connect(sys.argv[1])

try:
    conn = UnixConnection("localhost")
    conn.request("GET", sys.argv[2])
    sys.exit(0 if conn.getresponse().status == 200 else 1)
except OSError:
    sys.exit(1)
EOF
}

# console_answers: the console's readiness probe (database, Redis, engine) answers 200.
console_answers() {
    "$PY" - "http://127.0.0.1:$CONSOLE_PORT/healthz/ready" <<'EOF'
import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status == 200 else 1)
except OSError:
    sys.exit(1)
EOF
}

redis_answers() { [[ -S $REDIS_SOCKET ]] && [[ $(redis-cli -s "$REDIS_SOCKET" ping 2>/dev/null) == PONG ]]; }

# wait_until NAME SECONDS PID CHECK...: poll CHECK until it succeeds; fail early
# if PID (when not empty) dies, showing the end of NAME's log.
wait_until() {
    local name=$1 seconds=$2 pid=$3
    shift 3
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$RUN/$name.pid"
            tail -n 20 "$LOG/$name.log" >&2 || true
            die "$name exited during start-up; log: var/log/$name.log"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 "$LOG/$name.log" >&2 || true
            die "$name did not come up within ${seconds}s; log: var/log/$name.log"
        fi
        sleep 0.2
    done
}

start_engine() {
    local pid
    if pid=$(running_pid engine); then
        echo "engine: already running (pid $pid)"
    elif engine_get /_ping; then
        echo "engine: an engine not started by make up answers on $ENGINE_SOCKET; using it"
    else
        echo "engine: starting on $ENGINE_HOST"
        # setsid: its own session, so it outlives this terminal. The engine writes
        # its pidfile itself once it listens, and removes it when it stops.
        setsid "$PY" -m engine -H "$ENGINE_HOST" --pidfile "$RUN/engine.pid" \
            </dev/null >>"$LOG/engine.log" 2>&1 &
        wait_until engine 60 $! engine_get /_berth/ready  # readiness: state loaded, networks up, serving
    fi
}

start_redis() {
    local pid
    if ((!OWN_REDIS)); then
        echo "redis: using REDIS_URL=$REDIS_URL"
    elif pid=$(running_pid redis); then
        echo "redis: already running (pid $pid)"
    else
        echo "redis: starting on $REDIS_SOCKET (no TCP)"
        rm -f "$REDIS_SOCKET"
        redis-server --port 0 --unixsocket "$REDIS_SOCKET" --unixsocketperm 700 \
            --daemonize yes --pidfile "$RUN/redis.pid" --dir "$VAR" --logfile "$LOG/redis.log"
        wait_until redis 20 "" redis_answers
    fi
}

prepare_console() {
    "$PY" manage.py migrate --noinput -v 0
    "$PY" manage.py collectstatic --noinput -v 0
    "$PY" manage.py ensure_admin
}

start_celery() {
    local pid
    if pid=$(running_pid celery); then
        echo "celery: already running (pid $pid)"
        return
    fi
    echo "celery: starting a worker"
    rm -f "$RUN/celery.pid"
    # -B: the embedded beat runs periodic tasks (stats history); its schedule file lives in $RUN
    "$VENV/bin/celery" --workdir "$ROOT" -A console worker --detach -B -s "$RUN/celerybeat-schedule" \
        --pidfile "$RUN/celery.pid" --logfile "$LOG/celery.log" --loglevel INFO
    # --detach returns at once; the worker writes its pidfile when it has started.
    wait_until celery 30 "" running_pid celery >/dev/null
}

start_console() {
    local pid
    if pid=$(running_pid daphne); then
        echo "console: already running (pid $pid)"
        return
    fi
    if console_answers; then
        die "something that is not ours answers on 127.0.0.1:$CONSOLE_PORT; set BERTH_CONSOLE_PORT"
    fi
    echo "console: starting Daphne on 127.0.0.1:$CONSOLE_PORT"
    # Daphne has no pidfile option. setsid execs it in place (this background job
    # is no process-group leader), so $! is Daphne's own pid.
    setsid "$VENV/bin/daphne" -b 127.0.0.1 -p "$CONSOLE_PORT" console.asgi:application \
        </dev/null >>"$LOG/daphne.log" 2>&1 &
    pid=$!
    echo "$pid" >"$RUN/daphne.pid"
    wait_until daphne 30 "$pid" console_answers
}

# The notification watcher (console/notifications/watcher.py): follows the engines' events and sends
# what the notification rules fire. It reconnects to engines by itself; setsid execs it in place, so $! is its pid.
start_watcher() {
    local pid
    if pid=$(running_pid watcher); then
        echo "watcher: already running (pid $pid)"
        return
    fi
    echo "watcher: following engine events for notification rules"
    setsid "$PY" "$ROOT/manage.py" watch_events </dev/null >>"$LOG/watcher.log" 2>&1 &
    echo "$!" >"$RUN/watcher.pid"
}

bootstrap_busybox() {
    if engine_get /images/busybox:latest/json; then
        return
    fi
    echo "engine: no busybox image; bootstrapping one from the host's busybox"
    "$PY" -m engine bootstrap busybox --host "$ENGINE_HOST" >/dev/null
}

start_engine
start_redis
prepare_console
start_celery
start_console
start_watcher
bootstrap_busybox

echo
echo "Berth is up."
echo "  console:   http://127.0.0.1:$CONSOLE_PORT/"
if [[ -f $VAR/admin-password ]]; then
    echo "  sign in:   user \"admin\", password in $VAR/admin-password"
fi
echo "  engine:    $ENGINE_HOST  (e.g. DOCKER_HOST=$ENGINE_HOST docker ps)"
echo "  logs:      $LOG/"
echo "  stop:      make down"
