# Runs on the host once tests/semantics-test.yml is up and root can log in.
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # expect WHAT COMMAND EXPECTED
	got=$($SSH "$2") || fail "$1: '$2' failed"
	[ "$got" = "$3" ] || fail "$1: '$2' gave '$got', expected '$3'"
	echo "ok: $1"
}
expect "onboot containers run in order" "cat /run/lkr-order | tr '\n' ' '" "first second "
grep -q "linuxkit-rules: onboot fails exited 3" "$CONSOLE" || fail "the failing onboot container is not reported"
echo "ok: a failing onboot container is reported and boot goes on"
expect "readonly root cannot be written" "cat /run/lkr-readonly" "readonly"
expect "writable root can be written" "cat /run/lkr-writable" "writable"
expect "CAP_NET_ADMIN changes a link" "cat /run/lkr-netadmin" "allowed"
expect "without CAP_NET_ADMIN a link cannot change" "cat /run/lkr-nonetadmin" "denied"
$SSH "grep -q eth0 /run/lkr-nethost" || fail "net: host does not see eth0"
$SSH "! grep -q eth0 /run/lkr-netnew && grep -q lo: /run/lkr-netnew" || fail "net: new sees the host's links"
echo "ok: net host sees eth0, net new only lo"
expect "a bind is visible (and ro)" "cat /run/lkr-bind" "bound"
expect "sysctl applied (vm)" "cat /proc/sys/vm/swappiness" "13"
expect "sysctl applied (kernel)" "cat /proc/sys/kernel/domainname" "lkr-test"
expect "files: mode and numeric owner" "stat -c '%a %u %g' /hostroot/etc/owned" "640 1000 100"
# sshd's id: 100 + its index in onboot, onshutdown, services order (17 before it).
expect "files: owner by container name" "stat -c '%u %g' /hostroot/etc/owned-by-name" "117 117"
expect "files: directory mode" "stat -c '%a %F' /hostroot/etc/testdir" "750 directory"
$SSH "grep -q 'name: goodbye' /hostroot/etc/linuxkit.yml" || fail "metadata: yaml does not hold the image's config"
echo "ok: metadata: yaml"
expect "volumes: a blank one shared, a populated one read-only" "cat /run/lkr-volume | tr '\n' ' '" "from-onboot populated "
$SSH "grep -q ' lkr0' /run/lkr-veth" || fail "runtime.interfaces: lkr0 is not in the container's namespace"
$SSH "test -e /sys/class/net/lkr0-root && ! test -e /sys/class/net/lkr0" || fail "runtime.interfaces: the veth peer is not lkr0-root in the root namespace"
$SSH "grep -q ' /run/netns/lkr ' /proc/mounts" || fail "runtime.bindNS: /run/netns/lkr is not a mount"
echo "ok: runtime.interfaces (veth pair) and bindNS"
# The OCI runtime: crun when the image's init lists linuxkit/crun (the merged
# config says), runc otherwise; the other one's state directory stays absent.
rt=runc other=crun
$SSH "grep -q 'linuxkit/crun' /hostroot/etc/linuxkit.yml" && rt=crun other=runc
$SSH "ls /run/$rt" | grep -qx sshd || fail "sshd is not a $rt container"
$SSH "! test -e /run/$other" || fail "/run/$other exists: a container ran under $other"
echo "ok: the containers run under $rt"
$SSH poweroff || true
$WAIT_CONSOLE "linuxkit-rules-test: onshutdown ran" 90 || fail "the onshutdown container did not run at poweroff"
echo "ok: onshutdown runs at poweroff"
