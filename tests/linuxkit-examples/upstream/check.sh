#!/bin/sh
# The sysctl test's check: a value that only the sysctl package sets.
[ "$(sysctl -n net.ipv4.tcp_syncookies)" -eq 1 ] || { echo "sysctl test suite FAILED"; exit 1; }
echo "sysctl test suite PASSED"
