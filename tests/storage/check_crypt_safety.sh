# Runs on the host on one boot of tests/storage's LUKS image: pkg/dm-crypt's
# `crypto` on loop devices, from the dm-crypt container's own file system.
# A wrong key on a plain volume with data, and --luks on an ext4 disk that
# was mounted and written, must leave the bytes as they were and say why;
# --format and the right key work, and an ext4 never mounted (what
# pkg/format leaves) counts as blank.
fail() { echo "FAIL: $*"; exit 1; }
host() { { echo 'echo $$ >/sys/fs/cgroup/cgroup.procs'; cat; } | $SSH busybox nsenter -t 1 -m -- busybox sh -s; }
out=$(host <<'EOF' 2>&1
bb=busybox
r=$($bb ls -d /containers/onboot/*-dm-crypt/rootfs | $bb head -n 1)
[ -n "$r" ] || { echo "no dm-crypt container rootfs"; exit 1; }
$bb mkdir -p $r/dev $r/proc $r/sys $r/run $r/tmp /run/cs
# busybox runs its applets through /proc/self/exe; cryptsetup needs /proc and /sys.
$bb mount --bind /dev $r/dev && $bb mount -t proc proc $r/proc && $bb mount -t sysfs sys $r/sys &&
	$bb mount -t tmpfs cs $r/run && $bb mount -t tmpfs cs $r/tmp || exit 1
c() { $bb chroot $r "$@"; }
sum() { $bb md5sum < "$1" | $bb cut -c1-32; }
# Plain mode reads the first 32 bytes (a 256-bit key) of the key file.
$bb head -c 32 /dev/urandom > $r/tmp/a; $bb head -c 32 /dev/urandom > $r/tmp/b
$bb head -c 16 /dev/urandom > $r/tmp/short
for d in d1 d2 d3; do $bb dd if=/dev/zero of=$r/tmp/$d bs=1M count=32 2>/dev/null; done
l1=$($bb losetup -f) && $bb losetup $l1 $r/tmp/d1 || exit 1
l2=$($bb losetup -f) && $bb losetup $l2 $r/tmp/d2 || exit 1
l3=$($bb losetup -f) && $bb losetup $l3 $r/tmp/d3 || exit 1
echo "step short-key"; c /usr/bin/crypto -k /tmp/short t1 $l1; echo "exit $?"
echo "step plain-blank"; c /usr/bin/crypto -k /tmp/a t1 $l1; echo "exit $?"
$bb mount /dev/mapper/t1 /run/cs && echo "kept across keys" > /run/cs/f && $bb umount /run/cs
c cryptsetup close t1
before=$(sum $l1)
echo "step plain-wrong-key"; c /usr/bin/crypto -k /tmp/b t1 $l1; echo "exit $?"
[ "$(sum $l1)" = "$before" ] && echo "bytes unchanged" || echo "bytes CHANGED"
[ -e /dev/mapper/t1 ] && echo "mapping left open" || echo "mapping closed"
echo "step plain-right-key"; c /usr/bin/crypto -k /tmp/a t1 $l1; echo "exit $?"
$bb mount /dev/mapper/t1 /run/cs && echo "read: $($bb cat /run/cs/f)" && $bb umount /run/cs
c cryptsetup close t1
c mkfs.ext4 -q -F $l2
$bb mount $l2 /run/cs && echo data > /run/cs/f && $bb umount /run/cs
before=$(sum $l2)
echo "step luks-on-ext4"; c /usr/bin/crypto --luks -k /tmp/a t2 $l2; echo "exit $?"
[ "$(sum $l2)" = "$before" ] && echo "bytes unchanged" || echo "bytes CHANGED"
echo "step luks-format"; c /usr/bin/crypto --luks --format -k /tmp/a t2 $l2; echo "exit $?"
c cryptsetup close t2
c mkfs.ext4 -q -F $l3
echo "step plain-never-mounted"; c /usr/bin/crypto -k /tmp/a t3 $l3; echo "exit $?"
c cryptsetup close t3
$bb losetup -d $l1; $bb losetup -d $l2; $bb losetup -d $l3
$bb umount $r/tmp $r/run $r/sys $r/proc $r/dev
EOF
)
echo "$out"
expect() { echo "$out" | grep -qF -- "$1" || fail "expected '$1'"; echo "ok: $1"; }
expect "dm-crypt: no filesystem on /dev/mapper/t1, making ext4"
expect "holds data, but no filesystem appears under this key (a wrong or rotated key?); not formatting it, the data is left as it is (pass --format to erase it)"
expect "read: kept across keys"
expect "is not a LUKS volume and is not blank: it holds ext4; not formatting it (pass --format to erase it)"
expect "is not LUKS yet, formatting it"
expect "holds 16 bytes; a 256-bit plain key needs 32"
expect "holds an ext4 that was never mounted, so no data: treating it as blank"
echo "$out" | grep -q "bytes CHANGED" && fail "a refused call changed the device's bytes"
[ "$(echo "$out" | grep -c "bytes unchanged")" = 2 ] || fail "the bytes were not compared twice"
echo "$out" | grep -q "mapping left open" && fail "a refused plain mapping was left open"
echo "$out" | awk '/^step plain-wrong-key/ { s = 1 } s && /^exit / { print; exit }' | grep -q "exit 1" || fail "a wrong key did not fail"
echo "$out" | awk '/^step luks-on-ext4/ { s = 1 } s && /^exit / { print; exit }' | grep -q "exit 1" || fail "--luks on ext4 did not fail"
echo "$out" | awk '/^step luks-format/ { s = 1 } s && /^exit / { print; exit }' | grep -q "exit 0" || fail "--luks --format failed"
echo "$out" | awk '/^step short-key/ { s = 1 } s && /^exit / { print; exit }' | grep -q "exit 1" || fail "a short key did not fail"
echo "$out" | awk '/^step plain-never-mounted/ { s = 1 } s && /^exit / { print; exit }' | grep -q "exit 0" || fail "a never-mounted ext4 was not mapped and formatted"
echo "ok: data kept under a wrong key and under --luks; --format formats; a never-mounted ext4 is blank"
