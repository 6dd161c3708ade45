#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Docs must not drift: every option of `migtrace serve --help` is in the man
# page and back, and docs/METRICS.md lists exactly the families a live scrape
# announces, with the same types and units.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need_cmd curl
[ -x "$MIGTRACE" ] || fail "build first (make)"
setup_tmp

"$MIGTRACE" serve --help | grep -E '^ +(-., )?--[a-z]' | grep -o -- '--[a-z][a-z-]*' | head -n 999 |
	sort -u >"$T/help.opts"
sed -n '/^\.SH OPTIONS/,/^\.SH EXIT/p' "$TOP/man/migtrace.8" | sed 's/\\-/-/g' |
	grep -o -- '--[a-z][a-z-]*' | sort -u >"$T/man.opts"
diff -u "$T/help.opts" "$T/man.opts" || fail "--help and man/migtrace.8 OPTIONS differ (above)"
ok "man page OPTIONS match --help ($(wc -l <"$T/help.opts") options)"

# A daemon without BPF and with a silent QMP peer still announces every family.
spawn "$PY" "$TOP/tests/fakeqmp.py" "$T/f.qmp" stuck "$T/f.cmds"
wait_for_socket "$T/f.qmp" || fail "fake QMP peer"
spawn "$MIGTRACE" serve --no-bpf --socket "$T/m.sock" --qmp "$T/f.qmp" 2>"$T/migtrace.log"
wait_for_socket "$T/m.sock" || fail "daemon: $(cat "$T/migtrace.log")"
scrape "$T/m.sock" openmetrics >"$T/om.txt"
awk '/^# TYPE/ { t[$3] = $4 } /^# UNIT/ { u[$3] = $4 }
     END { for (n in t) print n, t[n], (n in u ? u[n] : "-") }' "$T/om.txt" | sort >"$T/live"
awk -F'|' '/^\| `migtrace_/ { gsub(/[` ]/, "", $2); gsub(/ /, "", $3); gsub(/ /, "", $4);
     print $2, $3, ($4 == "" ? "-" : $4) }' "$TOP/docs/METRICS.md" | sort >"$T/doc"
diff -u "$T/doc" "$T/live" || fail "docs/METRICS.md and the live exposition differ (above)"
ok "docs/METRICS.md matches the live exposition ($(wc -l <"$T/live") families)"
echo "PASS e2e_docs"
