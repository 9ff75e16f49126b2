#!/usr/bin/env bash
# Usage: with-parent.sh BINARY [ARGS...]   (stdin must be a pipe whose write end the parent holds)
#
# Runs BINARY and ties its life to the parent's: Linux has no PR_SET_PDEATHSIG for Node, so the
# parent keeps the write end of our stdin open and never writes. The kernel closes it whenever the
# parent dies, SIGKILL included, and the watcher below sees EOF and stops BINARY.
# SIGTERM/SIGINT to this script are forwarded, and it exits only once BINARY has, with its status.
# If WITH_PARENT_RM_ON_ORPHAN names a directory, it is deleted once an orphaned BINARY is dead.
set -u

exec 3<&0 </dev/null
"$@" 3<&- &
child=$!

{
  # The `read` builtin, not cat: no extra process that could outlive this script as a zombie.
  while read -r -u 3 _; do :; done
  # From here on, finish even though the main script, seeing BINARY die, will TERM us.
  trap '' TERM
  # Orphaned: nobody wants a graceful shutdown, and a graceful one can stall (kube-apiserver and
  # etcd each wait for the other when stopped together). Throwaway state, so SIGKILL.
  kill -KILL "$child" 2>/dev/null
  if [ -n "${WITH_PARENT_RM_ON_ORPHAN:-}" ]; then
    while kill -0 "$child" 2>/dev/null; do sleep 0.1; done
    rm -rf -- "$WITH_PARENT_RM_ON_ORPHAN"
  fi
} &
watcher=$!
exec 3<&-

trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP

# `wait` returns early when a trapped signal arrives: keep waiting until BINARY is really gone.
while :; do
  wait "$child"
  rc=$?
  kill -0 "$child" 2>/dev/null || break
done

# Reap the watcher too, so the process group is empty once our parent sees us exit.
kill -TERM "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
exit "$rc"
