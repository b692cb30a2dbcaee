# LinuxKit's hostmount-writeable-overlay example: getty's container has a
# writeable overlay of the host's /etc at writeable-host-etc (a relative
# runtime mount destination: inside its rootfs) whose writes stay private;
# nginx serves its page.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 150); do grep -q "probe: done" "$CONSOLE" && break; sleep 1; done
c=$(tr -d '\r' <"$CONSOLE")
echo "$c" | grep 'probe: '
echo "$c" | grep -q "probe: page: Welcome to nginx" || fail "nginx did not serve its page"
echo "$c" | grep -q "probe: overlay shows the host's /etc" || fail "no overlay of /etc in getty's rootfs"
echo "$c" | grep -q "probe: overlay is writeable" || fail "the overlay is not writeable"
echo "$c" | grep -q "probe: the host's /etc is unchanged" || fail "a write to the overlay reached the host's /etc"
echo "ok: getty has a private writeable overlay of /etc; nginx serves its page"
