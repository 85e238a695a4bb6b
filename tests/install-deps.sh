#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs every Debian 12 package the build and all test tiers need, and
# nothing when they are already there. Used by the README's two commands and CI.
set -euo pipefail

packages=(
        # build
        gcc meson ninja-build pkg-config
        libpci-dev libudev-dev libsystemd-dev libjson-c-dev libinih-dev
        libcxl-dev libdaxctl-dev
        # unit and integration tiers
        libcmocka-dev umockdev libumockdev-dev gir1.2-umockdev-1.0
        python3 python3-gi python3-dbusmock dbus systemd udev util-linux pciutils
        # docs and install checks
        scdoc groff-base
        # QEMU guest tier
        qemu-system-x86 busybox-static cpio kmod ndctl daxctl xz-utils
        # robustness: sanitizers, fuzzers, valgrind
        clang libclang-rt-14-dev valgrind cppcheck clang-tidy
        # idle test (system calls per poll tick)
        strace
)

missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
        exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages: ${missing[*]}" >&2
        echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
        exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
