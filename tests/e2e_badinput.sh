#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Bad input gets a one-line actionable message and never takes the daemon down:
# bad options, a socket already in use, a --qmp path that is not a socket, QMP
# peers that answer garbage / never answer / hang up / send too much, a QEMU
# that dies (its data stays), missing privileges, classic-tracepoint fallback.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need_root
need_cmd curl setpriv
[ -x "$MIGTRACE" ] || fail "build first (make)"
setup_tmp

# expect_fail STATUS PATTERN CMD...: CMD exits with STATUS and says PATTERN.
expect_fail() {
	local want=$1 pat=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>&1 || rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, want $want: $(cat "$T/out")"
	grep -q -- "$pat" "$T/out" || fail "'$*' did not say '$pat': $(cat "$T/out")"
	[ "$(wc -l <"$T/out")" -le 3 ] || fail "'$*' said too much: $(cat "$T/out")"
}

expect_fail 64 "invalid duration 'fast'" "$MIGTRACE" serve --interval fast
expect_fail 64 "out of range" "$MIGTRACE" serve --interval 0
expect_fail 64 "invalid --attach 'kprobe'" "$MIGTRACE" serve --attach kprobe
expect_fail 64 "unknown command 'frobnicate'" "$MIGTRACE" frobnicate
: >"$T/plain-file"
expect_fail 1 "nothing to trace" "$MIGTRACE" serve --no-bpf --socket "$T/x.sock" --qmp "$T/plain-file"
ok "bad options and hopeless --qmp rejected with one-line messages"

# Without privileges BPF cannot load: say so; with no --qmp nothing can work.
expect_fail 1 "needs root" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$MIGTRACE" serve --socket "$T/unpriv.sock"
ok "missing privileges explained"

# Misbehaving QMP peers next to a healthy daemon.
for mode in garbage stuck close huge; do
	spawn "$PY" "$TOP/tests/fakeqmp.py" "$T/$mode.qmp" "$mode" "$T/$mode.cmds"
done
for mode in garbage stuck close huge; do wait_for_socket "$T/$mode.qmp" || fail "fake $mode peer"; done
spawn "$MIGTRACE" serve --socket "$T/mt.sock" --qmp "$T/garbage.qmp" --qmp "$T/stuck.qmp" \
	--qmp "$T/close.qmp" --qmp "$T/huge.qmp" --qmp "$T/plain-file" --qmp "$T/absent.qmp" \
	--qmp-timeout 200ms --interval 20ms >"$T/migtrace.log" 2>&1
MT_PID=$LAST_PID
wait_for_socket "$T/mt.sock" || fail "daemon did not start: $(cat "$T/migtrace.log")"
sleep 2
scrape "$T/mt.sock" >"$T/s.txt" || fail "scrape failed"
for mode in garbage stuck close huge; do
	grep -q "migtrace_vm_up{vm=\"$T/$mode.qmp\"} 0" "$T/s.txt" || fail "$mode peer not down"
done
reason() { grep "^migtrace_vm_info{vm=\"$T/$1.qmp\"" "$T/s.txt" | sed 's/.*reason="\([^"]*\)".*/\1/'; }
echo "  reasons: garbage='$(reason garbage)' stuck='$(reason stuck)' close='$(reason close)' huge='$(reason huge)'"
reason garbage | grep -q malformed || fail "garbage reason"
reason stuck | grep -q "no greeting" || fail "stuck reason"
reason close | grep -q closed || fail "close reason"
reason huge | grep -qiE "too large|malformed|limit" || fail "huge reason"
grep -q "^migtrace_vm_info{vm=\"$T/plain-file\".*not a socket" "$T/s.txt" || fail "plain-file reason"
grep -q "^migtrace_vm_info{vm=\"$T/absent.qmp\".*does not exist" "$T/s.txt" || fail "absent reason"
kill -0 "$MT_PID" || fail "daemon died"
ok "misbehaving QMP peers are down with a reason; the daemon keeps serving"
cat "$T"/*.cmds | grep -v -E '"execute": ?"(qmp_capabilities|query-[a-z-]+)"' && fail "state-changing command sent"
[ -s "$T/garbage.cmds" ] || fail "fake peer recorded nothing"
ok "only qmp_capabilities and query-* were ever sent ($(cat "$T"/*.cmds | wc -l) commands)"

# A second daemon on the same socket is refused; the first keeps serving.
expect_fail 1 "in use" "$MIGTRACE" serve --no-bpf --socket "$T/mt.sock" --qmp "$T/garbage.qmp"
scrape "$T/mt.sock" >/dev/null || fail "first daemon stopped serving"
ok "socket in use refused, first daemon unharmed"

# Malformed HTTP: junk, an oversized header, a wrong method; still serving after.
printf 'GARBAGE\r\n\r\n' | timeout 2 socat - "UNIX-CONNECT:$T/mt.sock" >/dev/null 2>&1 || true
big=$(head -c 100000 /dev/zero | tr '\0' a)
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/mt.sock" -H "X-Big: $big" http://localhost/metrics || true)
[ "$code" -ge 400 ] || fail "oversized header answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/mt.sock" -X POST http://localhost/metrics)
[ "$code" = 405 ] || fail "POST answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/mt.sock" http://localhost/nope)
[ "$code" = 404 ] || fail "unknown path answered $code"
scrape "$T/mt.sock" >/dev/null || fail "daemon stopped serving after bad HTTP"
ok "bad HTTP answered 4xx, daemon unharmed"
stop_pid "$MT_PID"
wait "$MT_PID" 2>/dev/null || true
[ ! -e "$T/mt.sock" ] || fail "socket not removed at exit"
ok "clean exit removes the socket"

# Classic tracepoints with tracefs unmounted: mounted for the attach, then unmounted.
if [ -w /dev/kvm ] && ! mountpoint -q /sys/kernel/tracing; then
	spawn "$MIGTRACE" serve --socket "$T/c.sock" --attach classic >"$T/classic.log" 2>&1
	wait_for_socket "$T/c.sock" || fail "classic daemon did not start: $(cat "$T/classic.log")"
	scrape "$T/c.sock" >"$T/c.txt"
	grep -q 'migtrace_tracepoint_attached{tracepoint="kvm:kvm_dirty_ring_push",mode="tracepoint"} 1' \
		"$T/c.txt" || fail "classic attach: $(cat "$T/classic.log")"
	mountpoint -q /sys/kernel/tracing && fail "tracefs left mounted"
	stop_pid "$LAST_PID"
	ok "classic tracepoints attach with tracefs unmounted, and leave it unmounted"
fi
echo "PASS e2e_badinput"
