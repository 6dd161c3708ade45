# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers of the end-to-end tests (sourced, bash).
# A test that lacks root, /dev/kvm, QEMU or a tool skips (exit 77) outside CI
# and fails with CI=true, saying what is missing.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIGTRACE=${MIGTRACE:-$TOP/build/migtrace}
GUEST=${GUEST:-$TOP/build/guest/guest.bin}
PY=/usr/bin/python3 # Debian's, where python3-prometheus-client lives
PIDS=()
T=""

skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $* (required in CI)" >&2
		exit 1
	fi
	echo "SKIP: $*" >&2
	exit 77
}

need_root() { [ "$(id -u)" = 0 ] || skip_or_fail "needs root (BPF, /dev/kvm)"; }
need_kvm() { [ -w /dev/kvm ] || skip_or_fail "needs /dev/kvm"; }
need_cmd() {
	for c in "$@"; do
		command -v "$c" >/dev/null || skip_or_fail "needs $c (make deps)"
	done
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() { echo "  ok: $*"; }

# Start a background process and remember its PID for cleanup.
spawn() {
	"$@" &
	PIDS+=($!)
	LAST_PID=$!
}

stop_pid() {
	local pid=$1
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do
		stop_pid "$pid"
	done
	if [ -n "$T" ] && [ -d "$T" ]; then
		[ -f "$T/src.pid" ] && "$TOP/tools/vmpair" stop "$T" >/dev/null 2>&1
		if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
			echo "--- logs kept in $T" >&2
			tail -n 20 "$T"/*.log 2>/dev/null >&2
		else
			rm -rf "$T"
		fi
	fi
	exit $rc
}

setup_tmp() {
	T=$(mktemp -d /tmp/migtrace-test.XXXXXX)
	trap cleanup EXIT
}

# scrape SOCKET [openmetrics] -> stdout
scrape() {
	if [ "${2:-}" = openmetrics ]; then
		curl -sf --max-time 5 --unix-socket "$1" \
			-H 'Accept: application/openmetrics-text; version=1.0.0' http://localhost/metrics
	else
		curl -sf --max-time 5 --unix-socket "$1" http://localhost/metrics
	fi
}

# metric FILE NAME LABEL-SUBSTRING -> value of the first matching sample
metric() {
	awk -v n="$2" -v l="$3" '$1 ~ "^"n"({|$)" && index($1, l) { print $2; exit }' "$1"
}

wait_for_socket() {
	for _ in $(seq 100); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
