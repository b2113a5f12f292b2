# Shared by scripts/up.sh and scripts/down.sh (sourced, not run): where Berth's
# processes keep their files, and how to tell whether one of them runs.
#
# Each service has a pidfile var/run/NAME.pid. A pid counts as ours only if the
# process is alive AND its command line still contains a marker string unique
# to what we started, so a stale pidfile whose pid the kernel has since handed
# to another process is never mistaken for ours (and never signalled).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=$ROOT/var
RUN=$VAR/run
LOG=$VAR/log
VENV=$ROOT/.venv
PY=$VENV/bin/python

ENGINE_HOST=${BERTH_ENGINE_HOST:-unix:///run/berth/engine.sock}
CONSOLE_PORT=${BERTH_CONSOLE_PORT:-8000}
REDIS_SOCKET=$VAR/redis.sock

# marker NAME: the string that identifies our process NAME in /proc/PID/cmdline.
marker() {
    case $1 in
        engine) echo "--pidfile $RUN/engine.pid" ;;
        redis) echo "$REDIS_SOCKET" ;;
        celery) echo "$RUN/celery.pid" ;;
        daphne) echo "$VENV/bin/daphne" ;;
        watcher) echo "$ROOT/manage.py watch_events" ;;
    esac
}

# running_pid NAME: print the pid of our running NAME and succeed, or fail.
running_pid() {
    local pidfile=$RUN/$1.pid pid cmdline
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"$(marker "$1")"* ]] || return 1
    echo "$pid"
}
