# LinuxKit's logging example: memlogd (in init) holds the services' and the
# onboot containers' output and the kernel's messages (kmsg); the logwrite
# service writes them to /var/log/SOURCE.log.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 180); do grep -q "probe: done" "$CONSOLE" && break; sleep 1; done
c=$(tr -d '\r' <"$CONSOLE")
echo "$c" | grep 'probe: '
echo "$c" | grep -Eq 'probe: memlogd: [0-9T:Z-]+;write-to-the-logs;hello ' || fail "no service output in memlogd"
echo "$c" | grep -Eq 'probe: memlogd: [0-9T:Z-]+;onboot\.[0-9]+-dhcpcd(\.out)?;' || fail "no onboot output in memlogd"
echo "$c" | grep -Eq 'probe: memlogd: [0-9T:Z-]+;kmsg;\([0-9]+\) - ' || fail "no kernel messages (kmsg) in memlogd"
echo "$c" | grep -Eq 'probe: memlogd: [0-9T:Z-]+;memlogd;memlogd started' || fail "memlogd did not log its start"
echo "$c" | grep -Eq 'probe: file: [0-9T:Z-]+ write-to-the-logs hello ' || fail "logwrite wrote no /var/log/write-to-the-logs.log"
echo "$c" | grep -Eq 'probe: file: [0-9T:Z-]+ kmsg \([0-9]+\) - ' || fail "logwrite wrote no /var/log/kmsg.log"
echo "ok: services, onboot and kernel logs reach memlogd; logwrite writes them to /var/log"
