# LinuxKit's minimal example with containerd in init: every service is a
# containerd task in services.linuxkit, RUNNING, and a service that exits is
# reported on the console.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 120); do grep -q "service probe exited" "$CONSOLE" && break; sleep 1; done
tasks=$(tr -d '\r' <"$CONSOLE" | sed -n '/probe: tasks/,/^probe: done/p')
echo "$tasks"
echo "$tasks" | grep -Eq '^getty +[0-9]+ +RUNNING' || fail "getty is not a RUNNING containerd task"
echo "$tasks" | grep -Eq '^probe +[0-9]+ +RUNNING' || fail "probe is not a RUNNING containerd task"
grep -q "linuxkit-rules: service probe exited 0" "$CONSOLE" || fail "the probe's exit was not reported"
echo "ok: services run as containerd tasks; exits are reported"
