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
	/^migtrace_dirty_rate_bytes_per_second\{vm="src"/ { kr = $2 }
	/^migtrace_migration_dirty_rate_bytes_per_second\{vm="src"/ { qr = $2 }
	/^migtrace_migration_transfer_rate_bytes_per_second\{vm="src"/ { tr = $2 }
	/^migtrace_migration_remaining_bytes\{vm="src"/ { rem = $2 }
	/^migtrace_migration_processed_bytes\{vm="src"/ { sent = $2 }
	/^migtrace_migration_dirty_syncs\{vm="src"/ { syncs = $2 }
	/^migtrace_dirty_pages_total\{vm="src"/ { pages = $2 }
	END { printf "%5.1fs %-10s %s %s %s %s %s %5d %10d\n", t, st, mib(kr), mib(qr), mib(tr), mib(sent), mib(rem), syncs, pages }'
}
elapsed() { awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }
header() {
	printf "%6s %-10s %7s %7s %7s %7s %7s %5s %10s\n" time status kernel qemu link sent remain syncs "kernel"
	printf "%6s %-10s %7s %7s %7s %7s %7s %5s %10s\n" "" "" "dirty" "dirty" "MiB/s" "MiB" "MiB" "" "dirtied"
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
echo "   kernel dirty MiB/s is measured per 10 ms in BPF and exists from the first write on;"
echo "   QEMU's own rate appears only after its first ~1 s bitmap period. (On a host without"
echo "   VMX/SVM, KVM emulates guest code and every guest write is a dirty-ring push, so the"
echo "   kernel rate counts writes, far above QEMU's distinct-page rate.) Each bitmap sync"
echo "   finds the 4 MiB working set dirty again and 'remain' climbs back: 4 MiB > 4 MiB/s x"
echo "   0.3 s allowed downtime, so this migration cannot converge."
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
echo "== per-vCPU series and fault counters of the source (excerpt)"
curl -sf --unix-socket "$T/mt.sock" http://localhost/metrics |
	grep -E '^migtrace_(vcpu_dirty_pages_total|fault_page_faults_total|dirty_ring_resets_total)\{vm="src"' | sed 's/^/   /'
echo
echo "== done: stopping migtrace and both QEMUs"
