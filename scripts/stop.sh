#!/usr/bin/env bash
# Stops the moed that scripts/start.sh started: SIGTERM, so in-flight
# requests drain first. Does nothing when none is running.
set -euo pipefail
cd "$(dirname "$0")/.."
PIDFILE=run/moed.pid
[ -f "$PIDFILE" ] || exit 0
pid=$(cat "$PIDFILE")
if kill -0 "$pid" 2>/dev/null && grep -q moed "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { echo "moed ($pid) did not stop in 30 s" >&2; exit 1; }
    echo "[stop] moed ($pid) stopped" >&2
fi
rm -f "$PIDFILE"
