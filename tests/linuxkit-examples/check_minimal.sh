# LinuxKit's minimal example, booted: its dhcpcd command line
# (/sbin/dhcpcd --nobackground -f /dhcpcd.conf -1) got a lease and exited 0.
fail() { echo "FAIL: $*"; exit 1; }
grep -q "dhcp: eth0 [0-9]" "$CONSOLE" || fail "no DHCP lease on the console"
! grep -q "onboot dhcpcd exited" "$CONSOLE" || fail "the dhcpcd onboot container failed"
echo "ok: LinuxKit's dhcpcd command line got a lease"
