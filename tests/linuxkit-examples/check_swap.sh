# LinuxKit's swap example with a blank disk: the disk is formatted and mounted
# at /var/external, and swap is on there, encrypted (--encrypt): a dm-crypt
# mapping on a loop device over /var/external/swap.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 180); do grep -q "probe: done" "$CONSOLE" && break; sleep 1; done
c=$(tr -d '\r' <"$CONSOLE")
echo "$c" | grep 'probe: '
echo "$c" | grep -Eq 'probe: mount: /dev/vda1 /var/external ext4 ' || fail "/var/external is not the disk's ext4"
echo "$c" | grep -Eq 'probe: swap: /dev/mapper/[^ ]+ +partition +10[0-9]{5} ' || fail "no 1G swap on a device-mapper device"
echo "$c" | grep -Eq 'probe: dm: [^ ]+ CRYPT-[^ ]* loop[0-9]+$' || fail "the swap mapping is not dm-crypt on a loop device"
echo "ok: /var/external is mounted and 1G of encrypted swap is on"
