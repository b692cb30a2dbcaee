# Runs on the host on each boot of tests/storage (btrfs, xfs or LUKS) with a
# blank disk: boot 1 writes a file on /var/external, boot 2 reads it back.
fail() { echo "FAIL (boot $BOOT): $*"; exit 1; }
# A shell in the host's mount namespace (sshd's container does not bind /var)
# and root cgroup (sshd's device rules do not allow the raw disk).
host() { { echo 'echo $$ >/sys/fs/cgroup/cgroup.procs'; cat; } | $SSH busybox nsenter -t 1 -m -- busybox sh -s; }
mounts=$($SSH cat /proc/1/mounts) || fail "ssh"
line=$(echo "$mounts" | awk '$2 == "/var/external"')
[ -n "$line" ] || fail "/var/external is not mounted in the host: $mounts"
echo "ok: $line"
case "$line" in
	*" btrfs "*) kind=btrfs ;;
	*" xfs "*) kind=xfs ;;
	/dev/mapper/data*" ext4 "*|/dev/dm-*" ext4 "*) kind=luks ;;
	*) fail "unexpected file system on /var/external: $line" ;;
esac
if [ "$kind" = luks ]; then
	$SSH "cat /sys/block/dm-0/dm/uuid" | grep -q '^CRYPT-LUKS2-' || fail "dm-0 is not a LUKS2 mapping"
	echo "ok: /var/external sits on a LUKS2 dm-crypt mapping"
	# the raw disk starts with the LUKS header
	magic=$(echo "busybox head -c 4 /dev/vda" | host) || fail "cannot read /dev/vda"
	[ "$magic" = LUKS ] || fail "/dev/vda starts with '$magic', not a LUKS header"
fi
if [ "$BOOT" = 1 ]; then
	echo "echo 'written on boot 1 ($kind)' > /var/external/hello && sync" | host || fail "cannot write on $kind"
	echo "ok: wrote /var/external/hello on $kind"
	$SSH poweroff || true
else
	got=$(echo "cat /var/external/hello" | host) || fail "/var/external/hello is gone after a reboot"
	[ "$got" = "written on boot 1 ($kind)" ] || fail "read back '$got'"
	echo "ok: read back '$got' after a reboot ($kind)"
fi
