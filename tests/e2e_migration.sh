#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# End to end, with a real migration between two QEMUs on this host:
#  - migtrace's dirtied-page count for the source VM equals an independent
#    count of the same tracepoint (bpftrace) over the migration, within 1 %;
#  - processed bytes rise and remaining bytes fall while it runs;
#  - an in-kernel dirty rate is reported while QEMU's own is still 0;
#  - both expositions pass promtool and the strict OpenMetrics parser.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need_root
need_kvm
need_cmd qemu-system-x86_64 bpftrace curl promtool
[ -x "$MIGTRACE" ] && [ -f "$GUEST" ] || fail "build first (make)"
setup_tmp

# 4096 pages (16 MiB) written at ~1 kHz: a pass of ~4 s, a migration of ~3-4 s at
# 8 MiB/s that converges (measured: docs/ARCHITECTURE.md, "test guest").
"$TOP/tools/guest/mkguest" "$GUEST" "$T/guest.bin" --pages 4096 --delay 1024 >/dev/null
"$TOP/tools/vmpair" start "$T" --mem 128 --guest "$T/guest.bin" >"$T/vmpair.log" 2>&1 ||
	fail "could not start the QEMU pair: $(tail -n 3 "$T/vmpair.log")"
SRC_PID=$("$TOP/tools/vmpair" pid "$T" src)
ok "QEMU pair up (source pid $SRC_PID)"

spawn "$MIGTRACE" serve --socket "$T/mt.sock" --qmp "$T/src-mt.qmp" --qmp "$T/dst-mt.qmp" \
	--interval 10ms --qmp-interval 50ms >"$T/migtrace.log" 2>&1
MT_PID=$LAST_PID
wait_for_socket "$T/mt.sock" || fail "migtrace did not create its socket"
for _ in $(seq 50); do
	scrape "$T/mt.sock" >"$T/s0.txt" || true
	grep -q 'migtrace_vm_up{vm="src"} 1' "$T/s0.txt" &&
		grep -q 'migtrace_vm_up{vm="dst"} 1' "$T/s0.txt" && break
	sleep 0.1
done
grep -q 'migtrace_vm_up{vm="src"} 1' "$T/s0.txt" || fail "source VM not up in migtrace"
grep -q 'migtrace_vm_info{vm="dst",.*side="destination"' "$T/s0.txt" ||
	fail "the incoming QEMU is not labelled side=destination"
ok "migtrace follows src and dst over QMP (dst labelled side=destination)"

# Independent count: bpftrace on the classic tracepoint (it needs tracefs).
mounted_tracefs=0
if [ ! -d /sys/kernel/tracing/events ] && [ ! -d /sys/kernel/debug/tracing/events ]; then
	mount -t tracefs tracefs /sys/kernel/tracing
	mounted_tracefs=1
fi
spawn bpftrace -e "tracepoint:kvm:kvm_dirty_ring_push /pid == $SRC_PID/ { @n = count(); }" \
	>"$T/bpftrace.out" 2>&1
BT_PID=$LAST_PID
for _ in $(seq 100); do
	grep -q Attaching "$T/bpftrace.out" && break
	sleep 0.1
done
grep -q Attaching "$T/bpftrace.out" || fail "bpftrace did not attach: $(cat "$T/bpftrace.out")"
sleep 0.3

scrape "$T/mt.sock" >"$T/before.txt"
before=$(metric "$T/before.txt" migtrace_dirty_pages_total 'vm="src"')
before=${before:-0}

# events=on: QEMU then sends MIGRATION and MIGRATION_PASS events (migtrace never sets it).
"$TOP/tools/vmpair" migrate "$T" --bandwidth 8M --cap events >>"$T/vmpair.log" 2>&1
i=0
while :; do
	i=$((i + 1))
	scrape "$T/mt.sock" >"$T/during.$i.txt" || fail "scrape failed during the migration"
	status=$(grep -o 'migtrace_migration_status_info{vm="src",status="[a-z-]*"}' \
		"$T/during.$i.txt" | sed 's/.*status="\(.*\)"}/\1/')
	case $status in completed | failed | cancelled) break ;; esac
	[ $i -lt 600 ] || fail "migration did not finish in time"
	sleep 0.1
done
[ "$status" = completed ] || fail "migration ended as '$status'"
ok "migration completed after $i scrapes"
sleep 0.3 # let a few 10 ms samples pass: dirty logging is off now
scrape "$T/mt.sock" >"$T/after.txt"
kill -INT "$BT_PID"
wait "$BT_PID" 2>/dev/null || true
[ $mounted_tracefs = 1 ] && umount /sys/kernel/tracing

after=$(metric "$T/after.txt" migtrace_dirty_pages_total 'vm="src"')
bt=$(awk '/^@n:/ { print $2 }' "$T/bpftrace.out")
[ -n "$after" ] && [ -n "$bt" ] || fail "missing counts (migtrace '$after', bpftrace '$bt')"
mt=$((after - before))
echo "  dirty-ring pushes of the source during the migration: migtrace $mt, bpftrace $bt"
[ "$bt" -gt 1000 ] || fail "too few events ($bt) to compare: is the guest writing?"
awk -v a="$mt" -v b="$bt" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.01 * b) }' ||
	fail "migtrace ($mt) and bpftrace ($bt) differ by more than 1 %"
ok "migtrace count equals the independent count within 1 %"

# Processed bytes rise, remaining bytes fall, over the scrapes taken while active.
series() {
	for f in $(ls "$T"/during.*.txt | sort -t. -k2 -n); do
		metric "$f" "$1" 'vm="src"'
	done | awk 'NF'
}
rises=$(series migtrace_migration_processed_bytes | awk 'NR > 1 && $1 > p { n++ } { p = $1 } END { print n + 0 }')
falls=$(series migtrace_migration_remaining_bytes | awk 'NR > 1 && $1 < p { n++ } { p = $1 } END { print n + 0 }')
echo "  processed bytes rose $rises times, remaining bytes fell $falls times"
[ "$rises" -ge 3 ] || fail "processed bytes did not keep rising"
[ "$falls" -ge 1 ] || fail "remaining bytes never fell"
ok "processed rises, remaining falls"

# The kernel saw dirtying while QEMU's own rate still read 0 (first pass).
first_pass=0
for f in "$T"/during.*.txt; do
	k=$(metric "$f" migtrace_dirty_rate_bytes_per_second 'vm="src"')
	q=$(metric "$f" migtrace_migration_dirty_rate_bytes_per_second 'vm="src"')
	awk -v k="${k:-0}" -v q="${q:-0}" 'BEGIN { exit !(k > 0 && q == 0) }' && first_pass=$((first_pass + 1))
done
echo "  scrapes with an in-kernel rate while QEMU's read 0: $first_pass"
[ "$first_pass" -ge 1 ] || fail "no in-kernel dirty rate during the first pass"
ok "in-kernel dirty rate during the first pass"

grep -q 'migtrace_vcpu_dirty_pages_total{vm="src",vcpu="0",source="dirty_ring"}' "$T/after.txt" ||
	fail "no per-vCPU series joined to cpu-index 0"
grep -q 'migtrace_vm_info{vm="src",.*side="source"' "$T/after.txt" ||
	fail "the migrating QEMU is not labelled side=source"
ok "per-vCPU series joined by thread id; src labelled side=source"

# QMP events, with QEMU's timestamps: phases in order, passes, the downtime's edges.
ts() { metric "$T/after.txt" migtrace_migration_phase_timestamp_seconds "status=\"$1\""; }
setup=$(ts setup) active=$(ts active) completed=$(ts completed)
echo "  phases: setup $setup, active $active, completed $completed"
awk -v s="$setup" -v a="$active" -v c="$completed" 'BEGIN { exit !(s > 0 && s <= a && a < c) }' ||
	fail "phase timestamps missing or out of order"
pass=$(metric "$T/after.txt" migtrace_migration_pass 'vm="src"')
[ "${pass:-0}" -ge 2 ] || fail "QEMU's MIGRATION_PASS not seen (pass '$pass')"
stop=$(metric "$T/after.txt" migtrace_vm_stop_timestamp_seconds 'vm="src"')
resume=$(metric "$T/after.txt" migtrace_vm_resume_timestamp_seconds 'vm="dst"')
awk -v a="$active" -v s="${stop:-0}" -v c="$completed" -v r="${resume:-0}" \
	'BEGIN { exit !(a < s && s <= c && r >= s) }' ||
	fail "STOP (source, $stop) / RESUME (destination, $resume) not around the switch-over"
echo "  downtime edges from events: source STOP $stop, destination RESUME $resume"
ok "QMP events: phases in order, $pass passes, STOP/RESUME edges"
curl -sf --unix-socket "$T/mt.sock" 'http://localhost/passes?vm=src' >"$T/passes.json"
"$PY" - "$T/passes.json" <<'PY' || fail "/passes lacks the events or the QEMU pass join"
import json, sys
v = json.load(open(sys.argv[1]))["vms"][0]
names = [e["event"] for e in v["qmp_events"]]
assert "MIGRATION" in names and "MIGRATION_PASS" in names and "STOP" in names, names
assert any("migration_pass" in p.get("qmp_at_end", {}) for p in v["passes"]), "no join"
PY
ok "/passes carries QEMU's events and each pass's QEMU pass number"

scrape "$T/mt.sock" >"$T/final.prom"
scrape "$T/mt.sock" openmetrics >"$T/final.om"
"$TOP/tools/om-validate" "$T/final.prom" || fail "Prometheus text exposition invalid"
"$TOP/tools/om-validate" "$T/final.om" || fail "OpenMetrics exposition invalid"
ok "expositions valid (promtool, strict OpenMetrics parser)"

kill -0 "$MT_PID" || fail "migtrace died"
echo "PASS e2e_migration"
