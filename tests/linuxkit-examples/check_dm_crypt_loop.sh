# LinuxKit's dm-crypt-loop example with a blank SCSI disk (/dev/sda): the disk
# is mounted at /var/external, a file there is /dev/loop0 (the losetup
# package), loop0 is the dm-crypt mapping crypt_loop_dev, mounted (by the
# second `mount` onboot container) at /var/secure_storage with the file.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 180); do grep -q "probe: done" "$CONSOLE" && break; sleep 1; done
c=$(tr -d '\r' <"$CONSOLE")
echo "$c" | grep 'probe: '
echo "$c" | grep -Eq 'probe: dm: crypt_loop_dev CRYPT- loop0$' || fail "no dm-crypt mapping crypt_loop_dev on /dev/loop0"
echo "$c" | grep -Eq 'probe: mount: /dev/mapper/crypt_loop_dev /var/secure_storage ' || fail "/var/secure_storage is not the mapping"
echo "$c" | grep -q 'probe: secrets: secret things$' || fail "the file is not on the mapping"
echo "ok: a file on /dev/sda1 is loop0, encrypted as crypt_loop_dev, mounted with the file"
