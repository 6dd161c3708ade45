#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# --qmp-glob: QMP sockets that appear are followed within a rescan (1 s), and
# ones that disappear are dropped; the daemon keeps serving throughout.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need_cmd curl
[ -x "$MIGTRACE" ] || fail "build first (make)"
setup_tmp

# wait_metric PATTERN [absent]: until a scrape has (or no longer has) PATTERN, 5 s at most.
wait_metric() {
	for _ in $(seq 50); do
		scrape "$T/mt.sock" >"$T/s.txt" || true
		if [ "${2:-}" = absent ]; then
			grep -q "$1" "$T/s.txt" || return 0
		else
			grep -q "$1" "$T/s.txt" && return 0
		fi
		sleep 0.1
	done
	return 1
}

spawn "$MIGTRACE" serve --no-bpf --socket "$T/mt.sock" --qmp-glob "$T/vms/*.qmp" \
	--qmp-interval 50ms 2>"$T/migtrace.log"
MT_PID=$LAST_PID
wait_for_socket "$T/mt.sock" || fail "daemon did not start: $(cat "$T/migtrace.log")"
mkdir -p "$T/vms"
scrape "$T/mt.sock" | grep -q '^migtrace_vm_up' && fail "a VM before any socket appeared"
ok "no socket yet: no VM, daemon serving"

spawn "$PY" "$TOP/tests/fakeqmp.py" "$T/vms/a.qmp" good:alpha "$T/a.cmds"
A=$LAST_PID
wait_metric 'migtrace_vm_up{vm="alpha"} 1' || fail "alpha not followed: $(cat "$T/migtrace.log")"
ok "a socket that appeared is followed (vm alpha up)"

spawn "$PY" "$TOP/tests/fakeqmp.py" "$T/vms/b.qmp" good:beta "$T/b.cmds"
wait_metric 'migtrace_vm_up{vm="beta"} 1' || fail "beta not followed"
grep -q 'migtrace_vm_up{vm="alpha"} 1' "$T/s.txt" || fail "alpha lost when beta came"
: >"$T/vms/not-a-socket.qmp"
ok "a second one too; a plain file matching the pattern is ignored"

stop_pid "$A"
rm -f "$T/vms/a.qmp"
wait_metric 'vm="alpha"' absent || fail "alpha still exported after its socket went"
grep -q 'migtrace_vm_up{vm="beta"} 1' "$T/s.txt" || fail "beta lost when alpha went"
grep -q "a.qmp is gone" "$T/migtrace.log" || fail "no log line for the socket that went"
ok "a socket that disappeared is dropped; the other VM stays"
grep -c "following" "$T/migtrace.log" | grep -qx 2 || fail "expected two 'following' lines"
kill -0 "$MT_PID" || fail "daemon died"
cat "$T"/*.cmds | grep -v -E '"execute": ?"(qmp_capabilities|query-[a-z-]+)"' && fail "state-changing command sent"
echo "PASS e2e_glob"
