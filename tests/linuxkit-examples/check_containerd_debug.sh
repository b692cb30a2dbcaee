# LinuxKit's containerd-debug example: its /etc/containerd/runtime-config.toml
# (an absolute `files:` path) makes containerd log at trace level (its
# debug and trace lines; the default level, info, has neither) to
# /var/log/containerd.err.log and .out.log; nginx serves its page.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 150); do grep -q "probe: done" "$CONSOLE" && break; sleep 1; done
c=$(tr -d '\r' <"$CONSOLE")
echo "$c" | grep 'probe: '
echo "$c" | grep -q "probe: page: Welcome to nginx" || fail "nginx did not serve its page"
echo "$c" | grep -q "probe: log: containerd.err.log$" || fail "no /var/log/containerd.err.log"
echo "$c" | grep -q "probe: log: containerd.out.log$" || fail "no /var/log/containerd.out.log"
echo "$c" | grep -Eq "probe: debug lines: [1-9]" || fail "containerd does not log below info level"
echo "ok: containerd runs with runtime-config.toml's options and logs; nginx serves its page"
