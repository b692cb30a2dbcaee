# Runs on the host on each boot of tests/swap-test.yml with a blank 2G disk.
fail() { echo "FAIL (boot $BOOT): $*"; exit 1; }
on_console() { grep -q "$1" "$CONSOLE" || fail "console lacks '$1'"; echo "ok: console has '$1'"; }

if [ "$BOOT" = 1 ]; then
	on_console "format: formatted /dev/vda1 as ext4"
	on_console "swap: allocating /var/external/swap (1G)"
else
	on_console "format: /dev/vda has a partition table or a filesystem, skipping it"
	on_console "swap: reusing /var/external/swap (1G)"
fi
$SSH "grep -q ' /var/external ext4 ' /proc/1/mounts" || fail "/var/external is not mounted (ext4) in the host"
echo "ok: /var/external is mounted"
swaps=$($SSH cat /proc/swaps)
echo "$swaps"
dev=$(echo "$swaps" | awk 'NR == 2 { print $1 }')
# /proc/swaps names the device as the swap container saw it (/dev bound in).
case "$dev" in */mapper/swap-var-external-swap) ;; *) fail "swap is on '$dev', not the device-mapper mapping" ;; esac
name=$($SSH 'for b in /sys/block/dm-*; do [ "$(cat $b/dm/name)" = swap-var-external-swap ] && echo ${b##*/}; done; true')
[ -n "$name" ] || fail "no dm device named swap-var-external-swap"
$SSH "ls /sys/block/$name/slaves" | grep -q '^loop' || fail "$name does not sit on a loop device"
on_console "swap: mapping swap-var-external-swap is crypt aes-xts-plain64"
echo "ok: swap is on $dev, a dm-crypt mapping"
# Conditions and bad flags: each a message on the console and that container's exit status.
on_console "swap: condition not met, no swap: /var/nothere is not a mount point"
on_console "linuxkit-rules: onboot swap-required exited 1"
on_console "swap: --size '12Q' is not a size"
on_console "swap-badflags: swap --path /var/external/x --size 12Q exited 1"
on_console "swap: --path '/etc/swap' must be a file under /var/"
on_console "swap-badflags: swap --path /etc/swap --size 64M exited 1"
on_console "swap: unknown condition 'mounted:/var'"
on_console "swap-badflags: swap --path /var/external/x --size 64M --condition mounted:/var exited 1"
on_console "format: filesystem type 'zfs' is not supported"
on_console "linuxkit-rules: onboot format-badtype exited 1"
if grep -q "onboot swap-skip exited" "$CONSOLE"; then fail "an unmet optional condition failed its container"; fi

# swap --debug traces its shell commands, but never the key of its mapping.
on_console "swap: /dev/mapper/swap-var-external-debugswap is on (16M, encrypted)"
grep -q "set +x" "$CONSOLE" || fail "swap --debug traced nothing"
# The key is 128 hex digits, new each boot: no such run may reach the console.
if grep -Eq '[0-9a-f]{64}' "$CONSOLE"; then
	fail "the console shows a 64+ hex digit string (a swap key): $(grep -Eo '[0-9a-f]{64}' "$CONSOLE" | head -n 1)"
fi
echo "ok: swap --debug traced its commands without the key"

# Memory pressure, bounded: a memory cgroup held at 48 MiB writes 128 MiB into
# a tmpfs. tmpfs pages are swap-backed, so reclaim pushes tens of MiB of them
# to swap through the dm-crypt mapping. memory.high throttles the writer while
# reclaim runs; memory.max would call the OOM killer when TCG-slow swap I/O lags.
# It runs in the host's mount namespace: sshd's container sees cgroupfs read-only.
$SSH busybox nsenter -t 1 -m -- busybox sh -es <<'EOF' || fail "the memory-pressure writer failed"
cg=/sys/fs/cgroup/swaptest
grep -qw memory /sys/fs/cgroup/cgroup.subtree_control || echo +memory >/sys/fs/cgroup/cgroup.subtree_control
mkdir -p $cg /run/fill
echo 48M >$cg/memory.high
mount -t tmpfs -o size=256m fill /run/fill
busybox sh -c "echo \$\$ >$cg/cgroup.procs && exec busybox dd if=/dev/zero of=/run/fill/a bs=1M count=128 2>/dev/null"
EOF
used=$($SSH "awk 'NR > 1 { u += \$4 } END { print u + 0 }' /proc/swaps")
[ "$used" -ge 32768 ] || fail "only $used KiB of swap used under memory pressure (expected at least 32 MiB)"
echo "ok: $used KiB of swap used under memory pressure"
$SSH busybox nsenter -t 1 -m -- busybox sh -s <<'EOF' || true
rm -f /run/fill/a; umount /run/fill; rmdir /sys/fs/cgroup/swaptest
EOF
if [ "$BOOT" = 1 ]; then
	$SSH poweroff || true
fi
