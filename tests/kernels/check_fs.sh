# Runs on the host once the guest printed its verdict.
grep -q "kernel-test: ok" "$CONSOLE" || { grep "kernel-test:" "$CONSOLE"; exit 1; }
grep "kernel-test: ok" "$CONSOLE"
