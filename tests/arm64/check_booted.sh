# The arm64 guest reached its services, booted through UEFI and systemd-boot.
grep -q "linuxkit-rules: services started" "$CONSOLE"
grep -q "Machine model: linux,dummy-virt\|efi: EFI v" "$CONSOLE"
