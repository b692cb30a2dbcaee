# Runs on the host once the guest is up and root can log in over SSH.
out=$($SSH uname -s)
[ "$out" = "Linux" ] || { echo "uname -s over ssh gave '$out'"; exit 1; }
# The guest runs the image's architecture ($ARCH), on the kernel built from source.
machine=$($SSH uname -m)
case "$ARCH:$machine" in
  amd64:x86_64|arm64:aarch64) ;;
  *) echo "uname -m over ssh gave '$machine' for an $ARCH image"; exit 1 ;;
esac
# sshd runs as a LinuxKit service: in its own container, from runc.
$SSH 'cat /proc/1/cmdline | tr "\0" " "' | grep -q init
$SSH 'ls /containers/services' | grep -qx sshd
echo "ssh login and commands work on $machine ($($SSH uname -r))"
