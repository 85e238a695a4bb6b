#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the QEMU test guest (busybox sh). Every check is printed as a
# section the host asserts on, then a verdict line from its exit status:
#   CXLTEST BEGIN <name>
#   ...raw output...
#   CXLTEST END <name> rc=<exit status>
#   CXLTEST PASS <name>          or   CXLTEST FAIL <name> rc=<exit status>
# then "CXLTEST DONE" and a power-off. Settings come from /etc/guest.conf.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
. /etc/guest.conf

EDU=0000:00:05.0
IVSHMEM=0000:00:06.0
RP=0000:0c:00.0

# section NAME CMD...: run CMD with its output inside the markers.
section() {
        name=$1; shift
        echo "CXLTEST BEGIN $name"
        "$@" 2>&1
        rc=$?
        echo "CXLTEST END $name rc=$rc"
        if [ "$rc" -eq 0 ]; then
                echo "CXLTEST PASS $name"
        else
                echo "CXLTEST FAIL $name rc=$rc"
        fi
        return $rc
}

# Wait up to $1 tenths of a second for a path to appear.
wait_for() {
        n=$1; shift
        while [ "$n" -gt 0 ]; do
                [ -e "$1" ] && return 0
                sleep 0.1
                n=$((n - 1))
        done
        return 1
}

echo "CXLTEST BOOT kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"
# Kernel messages on the console could split a verdict line: keep them for the
# dmesg section at the end instead.
echo "1 4 1 7" > /proc/sys/kernel/printk

load_cxl() {
        for m in cxl_acpi cxl_pci cxl_mem cxl_pmem dax_pmem nd_pmem device_dax kmem; do
                modprobe "$m" || { echo "modprobe $m failed"; return 1; }
        done
        # cxl_acpi -> port -> cxl_pci -> mem0 -> nvdimm bridge: asynchronous probing.
        wait_for 100 /sys/bus/cxl/devices/mem0 || { echo "no mem0"; return 1; }
        wait_for 100 /sys/bus/cxl/devices/endpoint2 || { echo "no endpoint2"; return 1; }
        wait_for 100 /sys/bus/cxl/devices/nvdimm-bridge0 || { echo "no nvdimm-bridge0"; return 1; }
        ls /sys/bus/cxl/devices
}
section modules load_cxl

section lspci lspci -nn
section lspci-rootport lspci -vvv -s "$RP"

# (a) discovery through the library on this kernel's sysfs and libpci.
section discover guest-cxl ports
if [ -x /usr/bin/cxl-isold ]; then
        section list-ports cxl-isold --list-ports
        section list-ports-json cxl-isold --list-ports --json
        # The daemon itself on a real kernel: starts, reports the port, stops on SIGTERM.
        run_daemon() {
                mkdir -p /tmp/isold-state
                cxl-isold --state-dir /tmp/isold-state --log-target console --log-level debug \
                        > /tmp/isold.log 2>&1 &
                pid=$!
                # Up to 20 s for the start-up summary: TCG on a loaded host is slow.
                n=200
                while [ "$n" -gt 0 ] && ! grep -q "^Watching" /tmp/isold.log; do
                        sleep 0.1
                        n=$((n - 1))
                done
                kill -TERM $pid
                wait $pid
                rc=$?
                cat /tmp/isold.log
                return $rc
        }
        section daemon-run run_daemon
fi

# (b) a pmem region with a devdax namespace below the root port, found by the
# topology code, then taken out of use.
make_devdax() {
        cxl create-region -m -d decoder0.0 -w 1 -t pmem mem0 || return 1
        wait_for 100 /sys/bus/nd/devices/region0 || { echo "no nd region0"; return 1; }
        ndctl create-namespace -r region0 -m devdax -f || return 1
        wait_for 100 /dev/dax0.0 || { echo "no /dev/dax0.0"; return 1; }
        ls -l /dev/dax0.0
}
section region make_devdax
section topology guest-cxl topology "$RP"
# A process with dax0.0 mapped is a user the topology must count.
held_topology() {
        guest-cxl hold /dev/dax0.0 60 &
        holder=$!
        n=200
        while [ "$n" -gt 0 ] && ! grep -q dax0.0 /proc/$holder/maps 2>/dev/null; do
                sleep 0.1
                n=$((n - 1))
        done
        guest-cxl topology "$RP"
        rc=$?
        kill $holder
        wait $holder
        return $rc
}
section topology-held held_topology

# The daemon's own offline-devdax action takes dax0.0 out of use. QEMU's root port
# has no T&I capability, so no isolation can be injected: cxl-isold --drill runs the
# policy on a synthetic event instead, through the same plan, worker and record.
dax_driver() {
        if [ -e /sys/bus/dax/devices/dax0.0/driver ]; then
                basename "$(readlink /sys/bus/dax/devices/dax0.0/driver)"
        else
                echo none
        fi
}
printf '[policy "offline"]\naction = offline-devdax\n' > /tmp/drill.conf
# drill STATE_DIR: the one-shot drill, then its exit status, dax0.0's driver and the record.
drill() {
        mkdir -p "$1"
        cxl-isold --config /tmp/drill.conf --state-dir "$1" --log-target console --drill "$RP" offline
        rc=$?
        echo "DRILL rc=$rc"
        echo "AFTER dax0.0 driver=$(dax_driver)"
        echo "RECORD BEGIN"
        cat "$1/events.jsonl"
        echo "RECORD END"
        return $rc
}
# Negative: the kernel refuses the writes (sysfs read-only), so the action must say
# failed, the drill exit 1, and dax0.0 stay bound.
drill_refused() {
        mount -o remount,ro /sys || { echo "cannot remount /sys read-only"; return 2; }
        drill /tmp/s-refused
        rc=$?
        mount -o remount,rw /sys || { echo "cannot remount /sys read-write"; return 2; }
        [ "$rc" -eq 1 ] && [ "$(dax_driver)" = device_dax ]
}
# touch HOLDER N: ask the holder to read its mapping (SIGUSR1), wait for its Nth TOUCH line.
touch_mapping() {
        kill -USR1 "$1"
        n=100
        while [ "$n" -gt 0 ] && [ "$(grep -c "^TOUCH" /tmp/hold.log)" -lt "$2" ]; do
                sleep 0.1
                n=$((n - 1))
        done
}
# In use: a process maps dax0.0 during the drill. Whatever the kernel does with the
# unbind is reported; the host asserts what 6.12 does. The holder reads its mapping
# before the drill and after it, and says each time whether it still can.
drill_held() {
        daxctl enable-device dax0.0 || return 2
        guest-cxl hold /dev/dax0.0 60 > /tmp/hold.log 2>&1 &
        holder=$!
        n=200
        while [ "$n" -gt 0 ] && ! grep -q "^HOLD" /tmp/hold.log; do
                sleep 0.1
                n=$((n - 1))
        done
        echo "HOLDER maps=$(grep -c dax0.0 /proc/$holder/maps)"
        touch_mapping $holder 1
        drill /tmp/s-held
        rc=$?
        touch_mapping $holder 2
        kill $holder
        wait $holder
        cat /tmp/hold.log
        return $rc
}
if [ -x /usr/bin/cxl-isold ]; then
        section drill-refused drill_refused
        section drill drill /tmp/s
else
        section dax-disable daxctl disable-device dax0.0
fi
section topology-after guest-cxl topology "$RP"
[ -x /usr/bin/cxl-isold ] && section drill-held drill_held

# (c) VFIO: edu bound to vfio-pci, MSI vector 0 and INTx into an eventfd;
# ivshmem-doorbell, MSI-X vector 3 of 4 (a message number other than 0).
bind_vfio() {
        for m in irqbypass vfio vfio_iommu_type1 vfio-pci-core vfio-pci; do
                modprobe "$m" || { echo "modprobe $m failed"; return 1; }
        done
        for dev in "$@"; do
                if [ -e /sys/bus/pci/devices/$dev/driver ]; then
                        echo "$dev" > /sys/bus/pci/devices/$dev/driver/unbind
                fi
                echo vfio-pci > /sys/bus/pci/devices/$dev/driver_override
                echo "$dev" > /sys/bus/pci/drivers_probe
                group=$(basename "$(readlink /sys/bus/pci/devices/$dev/iommu_group)")
                wait_for 100 /dev/vfio/"$group" || { echo "no /dev/vfio/$group"; return 1; }
                echo "$dev driver=$(basename "$(readlink /sys/bus/pci/devices/$dev/driver)") group=$group"
        done
}
section vfio-bind bind_vfio "$EDU" "$IVSHMEM"
# Negative control first: without Bus Master Enable the MSI must not arrive.
section vfio-msi-nobm guest-irq vfio-msi-nobm "$EDU" 5 0
section vfio-msi guest-irq vfio-msi "$EDU" "$IRQ_COUNT" 0
section vfio-intx guest-irq vfio-intx "$EDU" "$IRQ_COUNT" 0
section vfio-msix guest-irq vfio-msix "$IVSHMEM" "$IRQ_COUNT" 3
# By message number, as a T&I interrupt would be armed: MSI on edu, MSI-X on ivshmem.
section vfio-msgnum-edu guest-irq vfio-msgnum "$EDU" 50 0
section vfio-msgnum-ivshmem guest-irq vfio-msgnum "$IVSHMEM" 50 3

# (d) UIO: the same device on uio_pci_generic, INTx.
bind_uio() {
        modprobe uio_pci_generic || return 1
        echo "$EDU" > /sys/bus/pci/devices/$EDU/driver/unbind
        echo > /sys/bus/pci/devices/$EDU/driver_override
        echo "1234 11e8" > /sys/bus/pci/drivers/uio_pci_generic/new_id
        wait_for 100 /sys/bus/pci/devices/$EDU/uio || { echo "no uio child"; return 1; }
        echo "driver=$(basename "$(readlink /sys/bus/pci/devices/$EDU/driver)") uio=$(ls /sys/bus/pci/devices/$EDU/uio)"
}
section uio-bind bind_uio
section uio-intx guest-irq uio "$EDU" "$IRQ_COUNT"

section dmesg dmesg
echo "CXLTEST DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
