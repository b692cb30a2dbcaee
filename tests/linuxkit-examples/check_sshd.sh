# LinuxKit's sshd example: sshd answers on port 22 and getty, rngd and sshd
# are RUNNING containerd tasks (dhcpcd is one too; pkg/dhcpcd's default
# command gets a lease and exits, so it may be STOPPED).
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 150); do grep -q "probe: done" "$CONSOLE" && break; sleep 1; done
c=$(tr -d '\r' <"$CONSOLE")
echo "$c" | grep 'probe: '
echo "$c" | grep -Eq 'probe: sshd says SSH-2\.0-OpenSSH' || fail "sshd did not greet on port 22"
for s in getty rngd sshd; do
	echo "$c" | grep -Eq "probe: task: $s +[0-9]+ +RUNNING" || fail "$s is not a RUNNING containerd task"
done
echo "ok: sshd answers on port 22; getty, rngd and sshd run"
