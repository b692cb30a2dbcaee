# LinuxKit's dm-crypt example with a blank SCSI disk (/dev/sda): the disk's
# partition is a dm-crypt mapping crypt_dev, mounted at /var/secure_storage,
# which holds the file the bbox onboot container wrote.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 180); do grep -q "probe: done" "$CONSOLE" && break; sleep 1; done
c=$(tr -d '\r' <"$CONSOLE")
echo "$c" | grep 'probe: '
echo "$c" | grep -Eq 'probe: dm: crypt_dev CRYPT- sda1$' || fail "no dm-crypt mapping crypt_dev on /dev/sda1"
echo "$c" | grep -Eq 'probe: mount: /dev/mapper/crypt_dev /var/secure_storage ' || fail "/var/secure_storage is not the mapping"
echo "$c" | grep -q 'probe: secrets: secret things$' || fail "the file is not on the mapping"
echo "ok: /dev/sda1 is encrypted (crypt_dev), mounted at /var/secure_storage, and holds the file"
