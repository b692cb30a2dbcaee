# LinuxKit's volumes example: nginx (Debian's, for nginx:1.19.5-alpine) serves
# its page, and its container has the populated `alpine` volume at /alpine and
# the blank one at /blank.
fail() { echo "FAIL: $*"; cat "$CONSOLE"; exit 1; }
for _ in $(seq 150); do grep -q "probe: page" "$CONSOLE" && break; sleep 1; done
grep -q "probe: page: Welcome to nginx" "$CONSOLE" || fail "nginx did not serve its page"
grep -q "probe: alpine volume populated" "$CONSOLE" || fail "no /alpine volume in the nginx container"
grep -q "probe: blank volume mounted" "$CONSOLE" || fail "no /blank volume in the nginx container"
echo "ok: nginx serves its page; both volumes are in its container"
