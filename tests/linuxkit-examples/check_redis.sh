# LinuxKit's redis-os example: Debian's redis-server (for redis:4.0.5-alpine)
# answers PING on port 6379.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 120); do grep -q "probe: redis says" "$CONSOLE" && break; sleep 1; done
grep -q "probe: redis says +PONG" "$CONSOLE" || fail "redis did not answer PING"
echo "ok: redis answers PING with +PONG"
