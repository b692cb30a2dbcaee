# The arm64 guest reached its services, started by UEFI firmware (the kernel
# reports the EFI system table), i.e. through systemd-boot, not QEMU's -kernel.
grep -q "linuxkit-rules: services started" "$CONSOLE"
grep -q "efi: EFI v[0-9.]* by EDK II" "$CONSOLE"
