#!/usr/bin/env bash
# Turn a debootstrap'ed Debian rootfs into a dialysis-ops test host:
#   * root may log in over SSH with the cached test key only;
#   * SSH host keys are generated at first boot (never baked into the image);
#   * units that are useless in a container, or that burn inotify instances,
#     are masked (keeps inotify use at ~2 instances per running host).
# Usage: customize-rootfs.sh ROOTFS_DIR AUTHORIZED_PUBKEY_FILE
# Runs on the build machine (as root) against the rootfs directory; it does not
# need the network. Part of the image recipe hash.
set -euo pipefail

rootfs=${1:?usage: customize-rootfs.sh ROOTFS_DIR PUBKEY_FILE}
pubkey=${2:?usage: customize-rootfs.sh ROOTFS_DIR PUBKEY_FILE}
[[ -x "$rootfs/sbin/init" ]] || { echo "customize-rootfs: $rootfs has no /sbin/init" >&2; exit 1; }
[[ -s "$pubkey" ]] || { echo "customize-rootfs: public key $pubkey missing" >&2; exit 1; }

sysd="$rootfs/etc/systemd/system"

# --- root login by key ------------------------------------------------------
install -d -m 0700 "$rootfs/root/.ssh"
install -m 0600 "$pubkey" "$rootfs/root/.ssh/authorized_keys"
install -d -m 0755 "$rootfs/etc/ssh/sshd_config.d"
cat > "$rootfs/etc/ssh/sshd_config.d/10-dialysis-testhost.conf" <<'EOF'
# dialysis-ops test host: root by key only, fast logins.
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
LogLevel VERBOSE
EOF

# --- locale file pam_env reads at every login -------------------------------
# Without it each SSH login logs "pam_env: Unable to open env file
# /etc/default/locale" at priority err, which an inspection (rightly) reports.
printf 'LANG=C.UTF-8\n' > "$rootfs/etc/default/locale"

# --- journald: the machine's kernel is not this test host's ----------------
# A container shares the machine's kernel; with ReadKMsg=yes its journald
# imports whatever the machine's kernel logged at boot (e.g. "RDSEED32 is
# broken" at priority err), which differs from machine to machine. A test host
# owns only its own journal; tests plant the entries they check (logger -p err).
install -d -m 0755 "$rootfs/etc/systemd/journald.conf.d"
printf '[Journal]\nReadKMsg=no\n' > "$rootfs/etc/systemd/journald.conf.d/10-dialysis-testhost.conf"

# --- SSH host keys: none in the image, fresh ones per container boot -------
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat > "$sysd/dialysis-ssh-hostkeys.service" <<'EOF'
[Unit]
Description=Generate SSH host keys (dialysis-ops test host)
DefaultDependencies=no
After=local-fs.target
Before=ssh.service ssh.socket sshd.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
RequiredBy=ssh.service
EOF
install -d "$sysd/multi-user.target.wants" "$sysd/ssh.service.requires"
ln -sfn ../dialysis-ssh-hostkeys.service "$sysd/multi-user.target.wants/dialysis-ssh-hostkeys.service"
ln -sfn ../dialysis-ssh-hostkeys.service "$sysd/ssh.service.requires/dialysis-ssh-hostkeys.service"
# ssh.service is enabled by the package's postinst; make sure anyway.
ln -sfn /lib/systemd/system/ssh.service "$sysd/multi-user.target.wants/ssh.service"
ln -sfn /lib/systemd/system/ssh.service "$sysd/sshd.service"

# --- mask what a container test host does not need --------------------------
mask_units=(
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
  systemd-udev-trigger.service systemd-udev-settle.service
  getty.target getty@.service console-getty.service serial-getty@.service
  getty-static.service
  systemd-timesyncd.service
  apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service
  systemd-ask-password-console.path systemd-ask-password-wall.path
  systemd-logind.service
  dbus.service dbus.socket dbus-broker.service
  e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer
  systemd-firstboot.service systemd-hwdb-update.service
)
for unit in "${mask_units[@]}"; do
  rm -f "$sysd/$unit"
  ln -s /dev/null "$sysd/$unit"
done

# --- misc -------------------------------------------------------------------
# Empty machine-id: systemd generates one per container boot.
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
echo testhost > "$rootfs/etc/hostname"
# No apt network access is expected inside a test host; drop the indexes.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log \
       "$rootfs"/var/log/apt/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
