# Runs on the host once the guest is up and root can log in over SSH.
out=$($SSH uname -s)
[ "$out" = "Linux" ] || { echo "uname -s over ssh gave '$out'"; exit 1; }
# sshd runs as a LinuxKit service: in its own container, from runc.
$SSH 'cat /proc/1/cmdline | tr "\0" " "' | grep -q init
$SSH 'ls /containers/services' | grep -qx sshd
echo "ssh login and commands work"
