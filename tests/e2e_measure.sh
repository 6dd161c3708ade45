#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# `migtrace measure`: outside a migration, an explicit calc-dirty-rate window
# measured in the kernel too. The project's guest writes 1024 pages plus its
# pass-counter page, so the window's distinct pages are known: 1025.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need_root
need_kvm
need_cmd qemu-system-x86_64
[ -x "$MIGTRACE" ] && [ -f "$GUEST" ] || fail "build first (make)"
setup_tmp

"$TOP/tools/vmpair" start "$T" --mem 128 --guest "$GUEST" >"$T/vmpair.log" 2>&1 ||
	fail "could not start the QEMU pair: $(tail -n 3 "$T/vmpair.log")"
"$MIGTRACE" measure --qmp "$T/src-mt.qmp" --seconds 2 --json >"$T/m.json" 2>"$T/m.err" ||
	fail "measure failed: $(cat "$T/m.err")"
read -r distinct events qemu status < <("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["kernel_distinct_pages"], d["kernel_events"], d.get("qemu_dirty_rate_mib_per_second", -1), d["qemu_status"])
' "$T/m.json")
echo "  window: $events events, $distinct distinct pages (known 1025), QEMU ${qemu} MiB/s ($status)"
[ "$status" = measured ] || fail "QEMU did not finish its measurement"
awk -v d="$distinct" 'BEGIN { exit !(d >= 1025 * 0.98 && d <= 1025 * 1.02) }' ||
	fail "distinct pages $distinct not within 2 % of 1025"
[ "$events" -gt 1025 ] || fail "fewer events ($events) than distinct pages"
ok "calc-dirty-rate window measured in the kernel: distinct pages within 2 % of the guest's"

# page-sampling hashes page contents and turns no dirty logging on: nothing to count.
"$MIGTRACE" measure --qmp "$T/src-mt.qmp" --mode page-sampling --json >"$T/p.json" 2>&1 ||
	fail "page-sampling measure failed: $(cat "$T/p.json")"
grep -qE '"kernel_events": ?0,' "$T/p.json" || fail "events counted without dirty logging"
ok "no dirty logging (page-sampling): no kernel events"

rc=0
"$MIGTRACE" measure --qmp "$T/src-mt.qmp" --seconds 0 >/dev/null 2>&1 || rc=$?
[ $rc = 64 ] || fail "--seconds 0 exited $rc, want 64"
rc=0
"$MIGTRACE" measure --qmp "$T/nope.qmp" >"$T/e" 2>&1 || rc=$?
[ $rc = 1 ] && grep -q "nope.qmp" "$T/e" || fail "missing socket: exit $rc: $(cat "$T/e")"
ok "bad input rejected with a message"
echo "PASS e2e_measure"
