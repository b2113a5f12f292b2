#!/usr/bin/env bash
# `make down`: stop what `make up` started — Daphne, Celery, Redis, then the
# engine — each with SIGTERM, waiting for it to exit. Only processes named by
# the pidfiles in var/run/ (and still recognisably ours) are signalled, so it is
# harmless when nothing runs, and an engine that make up did not start is left
# alone. Containers keep running when the engine stops (like Docker's
# live-restore); the next engine start picks them up again.
set -euo pipefail
source "$(dirname "$0")/services.sh"

# stop NAME SECONDS: SIGTERM our NAME and wait for it; SIGKILL if it is still
# there after SECONDS (the engine's state is crash-safe by design). Daphne,
# Celery and Redis lead their own process groups, which then die whole, worker
# children included; the engine alone, as its containers must live on.
stop() {
    local name=$1 seconds=$2 pid deadline
    if ! pid=$(running_pid "$name"); then
        rm -f "$RUN/$name.pid"
        return
    fi
    echo "$name: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + seconds))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "$name: still running after ${seconds}s; killing it" >&2
            if [[ $name != engine && $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]]; then
                kill -KILL -- "-$pid" 2>/dev/null || true
            else
                kill -KILL "$pid" 2>/dev/null || true
            fi
            break
        fi
        sleep 0.2
    done
    rm -f "$RUN/$name.pid"
}

[[ -d $RUN ]] || exit 0
stop daphne 20
stop watcher 20  # the notification watcher (manage.py watch_events)
stop celery 60  # a warm shutdown lets running tasks finish
stop redis 20
stop engine 30
