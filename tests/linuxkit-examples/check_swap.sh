# LinuxKit's swap example with a blank disk: the disk is formatted and mounted
# at /var/external, and swap is on there, encrypted (--encrypt): a dm-crypt
# mapping on a loop device over /var/external/swap.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 180); do grep -q "probe: done" "$CONSOLE" && break; sleep 1; done
c=$(tr -d '\r' <"$CONSOLE")
echo "$c" | grep 'probe: '
echo "$c" | grep -Eq 'probe: mount: /dev/vda1 /var/external ext4 ' || fail "/var/external is not the disk's ext4"
# /proc/swaps names the device as the swap container saw it (/dev bound in).
echo "$c" | grep -Eq 'probe: swap: [^ ]*/mapper/swap-var-external-swap[[:space:]]+partition[[:space:]]+10[0-9]{5}[[:space:]]' ||
	fail "no 1G swap on the device-mapper device swap-var-external-swap"
echo "$c" | grep -Eq 'probe: dm: swap-var-external-swap .* loop[0-9]+$' || fail "the swap mapping is not on a loop device"
echo "$c" | grep -q 'swap: mapping swap-var-external-swap is crypt aes-xts-plain64' || fail "the swap mapping is not dm-crypt"
echo "ok: /var/external is mounted and 1G of encrypted swap is on"
