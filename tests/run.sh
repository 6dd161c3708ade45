#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Run the cmocka unit tests given as arguments, then (unless --unit-only) the
# end-to-end tests tests/e2e_*.sh. Exit 77 from a test means skipped (never in CI).
set -u
cd "$(dirname "$0")/.."
unit_only=0
[ "${1:-}" = --unit-only ] && { unit_only=1; shift; }
pass=0 fail=0 skip=0
failed=()

run_one() {
	local name=$1
	shift
	echo "=== $name"
	"$@"
	case $? in
	0) pass=$((pass + 1)) ;;
	77) skip=$((skip + 1)) ;;
	*) fail=$((fail + 1)); failed+=("$name") ;;
	esac
}

for t in "$@"; do
	run_one "$(basename "$t")" "$t"
done
if [ $unit_only = 0 ]; then
	for t in tests/e2e_*.sh; do
		run_one "$(basename "$t")" bash "$t"
	done
fi
echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
