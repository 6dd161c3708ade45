#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# migtrace demo: a real source/destination QEMU pair on this host, a migration
# that cannot converge (the guest re-dirties its 4 MiB working set ~14 times a
# second, the link is capped at 4 MiB/s), live migtrace numbers showing why,
# then more bandwidth and the same migration converges. Stops all it started.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
MIGTRACE=$TOP/build/migtrace
[ "$(id -u)" = 0 ] || { echo "demo: needs root (BPF and /dev/kvm): sudo make demo" >&2; exit 1; }
[ -w /dev/kvm ] || { echo "demo: /dev/kvm is not available: KVM is needed" >&2; exit 1; }
"$TOP/tools/deps.sh" >/dev/null

T=$(mktemp -d /tmp/migtrace-demo.XXXXXX)
MT_PID=""
cleanup() {
	[ -n "$MT_PID" ] && kill "$MT_PID" 2>/dev/null && wait "$MT_PID" 2>/dev/null
	"$TOP/tools/vmpair" stop "$T" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

echo "== starting a source and a destination QEMU (KVM, dirty ring 4096, 128 MiB, test guest)"
"$TOP/tools/vmpair" start "$T" --mem 128 --guest "$TOP/build/guest/guest.bin" >/dev/null
echo "   source pid $("$TOP/tools/vmpair" pid "$T" src), destination pid $("$TOP/tools/vmpair" pid "$T" dst)"

echo "== starting migtrace (10 ms samples) on both QEMUs' spare QMP monitors"
"$MIGTRACE" serve --socket "$T/mt.sock" --qmp "$T/src-mt.qmp" --qmp "$T/dst-mt.qmp" \
	--interval 10ms --qmp-interval 50ms 2>"$T/migtrace.log" &
MT_PID=$!
for _ in $(seq 50); do [ -S "$T/mt.sock" ] && break; sleep 0.1; done
sed 's/^/   /' "$T/migtrace.log"

# One line per scrape: the in-kernel view next to QEMU's.
show() {
	curl -sf --unix-socket "$T/mt.sock" http://localhost/metrics | awk -v t="$1" '
	function mib(x) { return sprintf("%7.2f", x / 1048576) }
	/^migtrace_migration_status_info\{vm="src"/ { match($0, /status="[a-z-]*"/); st = substr($0, RSTART + 8, RLENGTH - 9) }
	/^migtrace_dirty_working_set_pages\{vm="src",window="1s"/ { ws = $2 * 4096 }
	/^migtrace_migration_dirty_rate_bytes_per_second\{vm="src"/ { qr = $2 }
	/^migtrace_migration_transfer_rate_bytes_per_second\{vm="src"/ { tr = $2 }
	/^migtrace_migration_remaining_bytes\{vm="src"/ { rem = $2 }
	/^migtrace_migration_dirty_syncs\{vm="src"/ { syncs = $2 }
	/^migtrace_dirty_passes_total\{vm="src"/ { passes = $2 }
	/^migtrace_dirty_pass_distinct_pages\{vm="src"/ { pd = $2 }
	/^migtrace_dirty_redirty_events\{vm="src",within="0.01"/ { r10 = $2 }
	/^migtrace_dirty_redirty_events\{vm="src",within="\+Inf"/ { rinf = $2 }
	END { printf "%5.1fs %-10s %s %s %s %s %5d %6d %6.0f %5.0f%%\n", t, st, mib(ws), mib(qr), mib(tr),
		mib(rem), syncs, passes, pd, rinf ? 100 * r10 / rinf : 0 }'
}
elapsed() { awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }
header() {
	printf "%6s %-10s %7s %7s %7s %7s %5s %6s %6s %6s\n" time status kernel qemu link remain syncs \
		kernel pass "in"
	printf "%6s %-10s %7s %7s %7s %7s %5s %6s %6s %6s\n" "" "" "wset" "dirty" "MiB/s" "MiB" "" \
		passes pages "10ms"
	printf "%6s %-10s %7s %7s\n" "" "" "MiB/s" "MiB/s"
}

echo
echo "== migrating at 4 MiB/s, downtime limit 300 ms: the guest dirties faster than the link"
"$TOP/tools/vmpair" migrate "$T" --bandwidth 4M --downtime-ms 300 >/dev/null
header
start=$(date +%s.%N)
for _ in $(seq 12); do
	sleep 0.5
	show "$(elapsed)"
done
echo
echo "   kernel wset: distinct pages dirtied in the last second, counted in BPF from the first"
echo "   write on; QEMU's own rate appears only after its first ~1 s bitmap period. kernel"
echo "   passes: harvest to harvest (here every ~70 ms, when a vCPU's 4096-entry ring fills);"
echo "   pass pages: distinct pages of the last pass (1025: the guest's whole working set, every"
echo "   pass); in 10ms: share of a pass's dirty events within 10 ms of its harvest (the"
echo "   re-dirty curve, 1 ms resolution on GET /passes). The whole 4 MiB working set is dirty"
echo "   again at every sync: 4 MiB > 4 MiB/s x 0.3 s allowed downtime, so this migration"
echo "   cannot converge."
echo
echo "== raising the link to 64 MiB/s (migrate-set-parameters): now it converges"
/usr/bin/python3 "$TOP/tools/qmp-cmd" "$T/src.qmp" migrate-set-parameters '{"max-bandwidth": 67108864}' >/dev/null
for _ in $(seq 6); do
	sleep 0.5
	line=$(show "$(elapsed)")
	echo "$line"
	case $line in *completed*) break ;; esac
done
"$TOP/tools/vmpair" wait "$T" --timeout 30 | sed 's/^/   /'
echo
echo "== the source's last passes and the re-dirty curve of the newest (GET /passes)"
curl -sf --unix-socket "$T/mt.sock" 'http://localhost/passes?vm=src&limit=3' | /usr/bin/python3 -c '
import json, sys
for v in json.load(sys.stdin)["vms"]:
    for p in v["passes"]:
        q = p.get("qmp_at_end", {})
        print("   pass %4d  %6.1f ms  %5d events  %6.0f distinct pages  QEMU remaining %5.2f MiB"
              % (p["pass"], 1e3 * p["duration_seconds"], p["events"], p["distinct_pages"],
                 q.get("ram_remaining_bytes", 0) / 1048576))
    c = v.get("redirty_curve")
    if c:
        print("   curve of pass %d, events per 1 ms after its harvest: %s ..." % (c["pass"], c["events"][:12]))
'
echo
echo "== where the source dirtied memory (busiest 2 MiB regions)"
curl -sf --unix-socket "$T/mt.sock" http://localhost/metrics |
	grep -E '^migtrace_dirty_region_events_total\{vm="src"' | head -n 4 | sed 's/^/   /'
echo
echo "== done: stopping migtrace and both QEMUs"
