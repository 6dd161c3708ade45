#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# `migtrace check`: usable here as root (every tracepoint of the table listed
# with its attach mode), the same facts as one JSON document, a clear "run as
# root" and exit 1 for an unprivileged user, exit 64 for bad usage.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need_root
need_cmd setpriv
[ -x "$MIGTRACE" ] || fail "build first (make)"
setup_tmp

rc=0
"$MIGTRACE" check >"$T/human" 2>&1 || rc=$?
[ $rc = 0 ] || fail "check exited $rc as root: $(cat "$T/human")"
sed 's/^/    /' "$T/human"
grep -Eq '^ok +bpf load: ' "$T/human" || fail "no 'ok bpf load' line"
grep -q '^verdict: migtrace can trace here' "$T/human" || fail "no verdict line"
# Every line but the verdict is `STATUS  item: detail` with a known status.
grep -v '^verdict: ' "$T/human" | grep -Ev '^(ok  |warn|fail)  [^:]+(:[^ ][^:]*)*: ' &&
	fail "malformed lines (above)"
# The tracepoint table is iterated, not hard-coded: each listed tracepoint has a mode.
n=$(grep -c '  tracepoint ' "$T/human")
[ "$n" -ge 5 ] || fail "only $n tracepoints listed"
grep -E '  tracepoint ' "$T/human" | grep -Ev ': +(raw_tp|tracepoint|missing: )' &&
	fail "tracepoint without a mode or a reason (above)"
grep -Eq '^ok +tracepoint kvm:kvm_dirty_ring_push: +raw_tp$' "$T/human" ||
	fail "kvm:kvm_dirty_ring_push not raw_tp"
ok "human report: exit 0, $n tracepoints with their attach mode"

rc=0
"$MIGTRACE" check --json >"$T/json" 2>"$T/json.err" || rc=$?
[ $rc = 0 ] || fail "check --json exited $rc: $(cat "$T/json.err")"
"$PY" -c 'import json,sys; json.load(sys.stdin)' <"$T/json" || fail "--json is not one JSON document"
"$PY" - "$T/json" "$n" <<'EOF' || fail "--json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True, d["verdict"]
assert all(c["status"] in ("ok", "warn", "fail") and c["name"] and "detail" in c
           for c in d["checks"])
tps = [c for c in d["checks"] if "tracepoint" in c]
assert len(tps) == int(sys.argv[2]), (len(tps), sys.argv[2])
push = [c for c in tps if c["tracepoint"] == "kvm:kvm_dirty_ring_push"]
assert push and push[0]["mode"] == "raw_tp" and push[0]["dirty_source"], push
ring = [c for c in d["checks"] if c["name"] == "KVM_CAP_DIRTY_LOG_RING"]
assert ring and ring[0]["max_entries"] * 16 == ring[0]["max_bytes"], ring
EOF
ok "--json: one document, ok=true, kvm:kvm_dirty_ring_push raw_tp, as many tracepoints as the human report"

# Unprivileged: BPF does not load; nothing usable; say to run as root.
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$MIGTRACE" check >"$T/unpriv" 2>&1 || rc=$?
[ $rc = 1 ] || fail "unprivileged check exited $rc, want 1: $(cat "$T/unpriv")"
grep -q '^fail  bpf load: .*run migtrace as root' "$T/unpriv" || fail "no 'run as root' advice: $(cat "$T/unpriv")"
grep -q '^verdict: migtrace cannot trace here: .*run migtrace as root' "$T/unpriv" ||
	fail "verdict does not say to run as root: $(tail -n 1 "$T/unpriv")"
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$MIGTRACE" check --json >"$T/unpriv.json" \
	2>"$T/unpriv.err" || rc=$?
[ $rc = 1 ] || fail "unprivileged check --json exited $rc, want 1"
"$PY" -c 'import json,sys; assert json.load(sys.stdin)["ok"] is False' <"$T/unpriv.json" ||
	fail "unprivileged --json not ok=false"
grep -q 'run migtrace as root' "$T/unpriv.err" || fail "--json failure not explained on stderr"
ok "unprivileged: exit 1, '$(tail -n 1 "$T/unpriv")'"

rc=0
"$MIGTRACE" check --bogus >"$T/bogus" 2>&1 || rc=$?
[ $rc = 64 ] || fail "check --bogus exited $rc, want 64"
rc=0
"$MIGTRACE" check extra-arg >"$T/bogus" 2>&1 || rc=$?
[ $rc = 64 ] || fail "check extra-arg exited $rc, want 64"
"$MIGTRACE" check --help | grep -q -- '--json' || fail "--help lacks --json"
ok "bad usage exits 64; --help lists --json"
echo "PASS e2e_check"
