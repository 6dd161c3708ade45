#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Install migtrace's build and test dependencies from Debian packages.
# Idempotent: does nothing (and needs no network) when everything is present.
set -eu
PKGS="make gcc clang llvm pkg-config libbpf-dev libelf-dev zlib1g-dev libjson-c-dev \
libmicrohttpd-dev libvirt-dev libcmocka-dev bpftool bpftrace qemu-system-x86 \
prometheus python3 python3-prometheus-client curl socat binutils"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing:$missing — run 'make deps' as root (it uses apt-get)" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
