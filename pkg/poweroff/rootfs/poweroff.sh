#!/bin/busybox sh
# LinuxKit's poweroff entry point ("/bin/sh /poweroff.sh [SECONDS]"): wait
# (default 30 s), then power off at once, as LinuxKit's does.
exec /usr/bin/poweroff-after "${1:-30}" -f
