#!/usr/bin/env bash
# Turn a debootstrap'ed rootfs with the lab packages into a lab host image,
# after tests/testhosts/customize-rootfs.sh has made it a test host:
#   * the database servers are installed but NOT enabled: a lab host runs only
#     what lab/provision.yml enables for its role (an application host runs no
#     database), so every host boots quickly and uses little memory;
#   * what debootstrap left that a test host never needs is dropped (apt
#     archives, documentation, man pages, translations).
# Usage: customize-lab.sh ROOTFS_DIR. Runs on the build machine as root; no network.
set -euo pipefail

rootfs=${1:?usage: customize-lab.sh ROOTFS_DIR}
[[ -d "$rootfs/usr/lib/postgresql/15" ]] || { echo "customize-lab: no PostgreSQL 15 in $rootfs" >&2; exit 1; }
[[ -x "$rootfs/usr/sbin/mariadbd" ]] || { echo "customize-lab: no MariaDB server in $rootfs" >&2; exit 1; }

sysd="$rootfs/etc/systemd/system"
# Disabled at boot; provisioning enables them where the host's role needs them.
# MariaDB's package also enables mariadb.socket (socket activation on 3306).
for unit in postgresql.service mariadb.service mysql.service mysqld.service mariadb.socket \
            mariadb-extra.socket; do
  find "$sysd" -name "$unit" -type l -delete
done
# pg_ctlcluster's per-cluster unit is started by postgresql.service; keep it.

rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
       "$rootfs"/usr/share/info/*
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'zh_CN' ! -name 'en*' -exec rm -rf {} +
