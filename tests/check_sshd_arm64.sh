# check_sshd.sh's checks on the arm64 image, plus: the guest really is arm64.
machine=$($SSH uname -m)
[ "$machine" = "aarch64" ] || { echo "uname -m over ssh gave '$machine', not aarch64"; exit 1; }
out=$($SSH uname -s)
[ "$out" = "Linux" ] || { echo "uname -s over ssh gave '$out'"; exit 1; }
$SSH 'cat /proc/1/cmdline | tr "\0" " "' | grep -q init
$SSH 'ls /containers/services' | grep -qx sshd
echo "ssh login and commands work on $machine"
