#!/bin/busybox sh
# A login on every console= of the kernel command line, respawned forever.
# INSECURE=true: a root shell without password (as LinuxKit's getty).
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin

# /etc/getty.shadow in the image replaces the container's shadow file.
if [ -f /hostroot/etc/getty.shadow ]; then
	cp /hostroot/etc/getty.shadow /etc/shadow
	chmod 0600 /etc/shadow
fi

start_getty() {
	tty=${1%%,*}
	speed=${1#*,}
	[ "$speed" = "$1" ] && speed=115200
	speed=${speed%%[!0-9]*}
	[ -c "/dev/$tty" ] || return 0
	# A console= of another architecture (ttyS0 on arm64) may have a device node
	# but no port: opening it fails, and the loop below would spin.
	(: <"/dev/$tty") 2>/dev/null || return 0
	if [ "$INSECURE" = "true" ]; then
		while true; do
			setsid -c sh -l <"/dev/$tty" >"/dev/$tty" 2>&1
		done &
	else
		while true; do
			setsid getty -L "$speed" "$tty" vt100
		done &
	fi
}

for opt in $(cat /proc/cmdline); do
	case "$opt" in
	console=*) start_getty "${opt#console=}" ;;
	esac
done
wait
