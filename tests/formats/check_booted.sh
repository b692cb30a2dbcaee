# The guest reached its services; the boot test stops it afterwards.
grep -q "linuxkit-rules: services started" "$CONSOLE"
