#!/usr/bin/env bash
# Prepare this machine to run the dialysis-ops real-host tests (molecule +
# podman "machines" reached over SSH on 127.0.0.1).
#
#   1. installs the container tooling from apt (only what is missing);
#   2. writes the podman settings these hosts need (runtime, ulimits, ...);
#   3. creates a test SSH keypair in the machine-level cache directory;
#   4. builds localhost/dialysis-ops-testhost:<recipe-hash> (+ :latest) from
#      tests/testhosts/ via debootstrap -> rootfs.tar -> podman build FROM scratch,
#      and localhost/dialysis-ops-lab:<recipe-hash> (+ :latest) the same way from
#      tests/testhosts/ + lab/image/ (the lab hospital's hosts, see lab/README.md).
#
# Idempotent: a second run only checks and takes a few seconds.
# Usage: scripts/setup-testhosts.sh [--rebuild] [--no-lab] [--help]
#   --rebuild   rebuild the images (and the rootfs) even if the recipe is unchanged
#   --no-lab    build only the plain test host, not the lab image (lab/image/:
#               the test host plus PostgreSQL 15, MariaDB 10.11, drivers; ~2 min)
# Environment:
#   DIALYSIS_TESTHOST_CACHE   cache dir (default ~/.cache/dialysis-ops/testhosts);
#                             holds the SSH key and the rootfs build, never the repo
#   DIALYSIS_TESTHOST_MIRROR  Debian mirror URI for debootstrap (default: the
#                             first URI in this machine's apt sources serving
#                             bookworm/main, else debootstrap's default)
# See tests/testhosts/README.md.
set -euo pipefail

readonly MARKER="written by dialysis-ops scripts/setup-testhosts.sh"
readonly IMAGE_REPO="localhost/dialysis-ops-testhost"
readonly LAB_IMAGE_REPO="localhost/dialysis-ops-lab"
readonly APT_PACKAGES=(podman runc iptables debootstrap conmon netavark aardvark-dns
  slirp4netns catatonit uidmap e2fsprogs openssh-client debian-archive-keyring
  ca-certificates wget)
readonly PODMAN_DROPIN_DIR=/etc/containers/containers.conf.d
readonly PODMAN_DROPIN="$PODMAN_DROPIN_DIR/50-dialysis-ops-testhosts.conf"
readonly PODMAN_MAIN_CONF=/etc/containers/containers.conf
readonly STORAGE_CONF=/etc/containers/storage.conf
readonly SYSCTL_FILE=/etc/sysctl.d/60-dialysis-ops-testhosts.conf
readonly MIN_INOTIFY_INSTANCES=1024

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
recipe_dir="$repo_root/tests/testhosts"
lab_recipe_dir="$repo_root/lab/image"
with_lab=1
cache_dir=${DIALYSIS_TESTHOST_CACHE:-$HOME/.cache/dialysis-ops/testhosts}
rebuild=0
did=()          # summary of what this run changed
t_start=$SECONDS

log()  { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

while (($#)); do
  case $1 in
    --rebuild) rebuild=1 ;;
    --no-lab) with_lab=0 ;;
    -h|--help) sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (try --help)" ;;
  esac
  shift
done

[[ $(id -u) -eq 0 ]] || die "run as root (rootful podman, debootstrap and /etc/containers need it)"
[[ -f "$recipe_dir/Containerfile" && -f "$recipe_dir/rootfs.conf" && -f "$recipe_dir/customize-rootfs.sh" ]] \
  || die "image recipe not found in $recipe_dir"
case $cache_dir in
  "$repo_root"|"$repo_root"/*) die "DIALYSIS_TESTHOST_CACHE ($cache_dir) must be outside the checkout" ;;
esac
mkdir -p "$cache_dir"
chmod 0700 "$cache_dir"

# One setup at a time per cache (parallel CI jobs on one machine).
exec 9>"$cache_dir/.setup.lock"
if ! flock -n 9; then
  log "another setup-testhosts.sh is running; waiting for it"
  flock 9
fi

# ---------------------------------------------------------------------------
# 1. apt packages
# ---------------------------------------------------------------------------
log "Checking apt packages"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  info "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  did+=("installed apt packages: ${missing[*]}")
else
  info "all present"
fi

# ---------------------------------------------------------------------------
# 2. podman configuration
# ---------------------------------------------------------------------------
# Write $2 (content) to $1 only if it differs; back up a foreign file first.
write_managed_file() {
  local path=$1 content=$2
  if [[ -f $path ]] && [[ "$(cat "$path")" == "$content" ]]; then
    return 1
  fi
  if [[ -f $path ]] && ! grep -qF "$MARKER" "$path"; then
    local backup
    backup="$path.dialysis-ops-backup.$(date +%Y%m%d%H%M%S)"
    cp -a "$path" "$backup"
    warn "$path was not written by dialysis-ops; backed it up to $backup"
  fi
  mkdir -p "$(dirname "$path")"
  printf '%s\n' "$content" > "$path.tmp.$$"
  mv -f "$path.tmp.$$" "$path"
  return 0
}

# A limit strictly below the hard limit (3/4 of it), capped. Root here lacks
# CAP_SYS_RESOURCE, so a container limit above the hard limit fails with
# "setrlimit RLIMIT_NOFILE: Operation not permitted".
below_hard() {
  local hard=$1 cap=$2 v
  if [[ $hard == unlimited ]]; then echo "$cap"; return; fi
  v=$((hard - hard / 4))
  ((v > cap)) && v=$cap
  ((v < 1)) && v=1
  echo "$v"
}

log "Checking podman configuration"
[[ -z ${CONTAINERS_CONF:-} ]] || warn "CONTAINERS_CONF=$CONTAINERS_CONF is set: podman ignores $PODMAN_DROPIN_DIR then"
nofile=$(below_hard "$(ulimit -Hn)" 65536)
# podman clamps its own RLIMIT_NPROC to kernel.pid_max (observed: 32768 with
# ulimit -Hu 96365), so that is the effective hard limit for nproc.
hard_nproc=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 32768)
if [[ $hard_nproc == unlimited ]] || ((hard_nproc > pid_max)); then hard_nproc=$pid_max; fi
nproc=$(below_hard "$hard_nproc" 65536)
podman_conf="# $MARKER -- re-run the script instead of editing.
# runc: crun fails on these hosts (\"cgroups in hybrid mode not supported\").
# default_ulimits: 3/4 of the hard limits seen at setup (ulimit -Hn $(ulimit -Hn); nproc
# min(ulimit -Hu $(ulimit -Hu), kernel.pid_max $pid_max)): root lacks CAP_SYS_RESOURCE,
# so podman's default (1048576) fails with \"setrlimit ...: Operation not permitted\".
[containers]
default_ulimits = [
  \"nofile=$nofile:$nofile\",
  \"nproc=$nproc:$nproc\",
]

[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"

[network]
network_backend = \"netavark\""

storage_conf="# $MARKER
[storage]
driver = \"overlay\"
runroot = \"/run/containers/storage\"
graphroot = \"/var/lib/containers/storage\""

# podman 4.3 (containers/common 0.50) reads containers.conf.d drop-ins; we use
# one so a machine's own containers.conf stays untouched. Verified below: if
# the drop-in is not honoured, fall back to writing containers.conf itself.
conf_target=$PODMAN_DROPIN
if [[ -f $PODMAN_MAIN_CONF ]] && grep -qF "$MARKER" "$PODMAN_MAIN_CONF"; then
  conf_target=$PODMAN_MAIN_CONF   # an earlier run had to use the fallback
fi
if write_managed_file "$conf_target" "$podman_conf"; then
  did+=("wrote $conf_target (runc, cgroupfs, file events, ulimits nofile=$nofile nproc=$nproc)")
fi
if [[ ! -f $STORAGE_CONF ]]; then
  write_managed_file "$STORAGE_CONF" "$storage_conf" || true
  did+=("wrote $STORAGE_CONF (overlay)")
elif ! grep -qF "$MARKER" "$STORAGE_CONF"; then
  current_driver=$(podman info --format '{{.Store.GraphDriverName}}' 2>/dev/null || true)
  if [[ $current_driver != overlay ]]; then
    write_managed_file "$STORAGE_CONF" "$storage_conf" || true
    did+=("replaced $STORAGE_CONF (driver was '${current_driver:-?}', now overlay)")
  fi
fi

podman_effective() {
  podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.EventLogger}} {{.Store.GraphDriverName}}' 2>/dev/null
}
want="runc cgroupfs file overlay"
got=$(podman_effective || true)
if [[ $got != "$want" && $conf_target == "$PODMAN_DROPIN" ]]; then
  warn "podman did not apply $PODMAN_DROPIN (got '$got'); writing $PODMAN_MAIN_CONF instead"
  write_managed_file "$PODMAN_MAIN_CONF" "$podman_conf" || true
  rm -f "$PODMAN_DROPIN"
  did+=("wrote $PODMAN_MAIN_CONF (drop-in not honoured)")
  got=$(podman_effective || true)
fi
[[ $got == "$want" ]] || die "podman settings not effective: want '$want', got '$got' (see podman info)"
info "podman: runtime/cgroups/events/storage = $got; ulimits nofile=$nofile nproc=$nproc"

# inotify: every systemd container uses a few instances of root's (shared) budget.
cur=$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 0)
if ((cur < MIN_INOTIFY_INSTANCES)); then
  if sysctl -q -w fs.inotify.max_user_instances=$MIN_INOTIFY_INSTANCES >/dev/null 2>&1; then
    did+=("raised fs.inotify.max_user_instances $cur -> $MIN_INOTIFY_INSTANCES")
    printf '# %s\nfs.inotify.max_user_instances = %s\n' "$MARKER" "$MIN_INOTIFY_INSTANCES" > "$SYSCTL_FILE" 2>/dev/null \
      || warn "could not persist the inotify setting in $SYSCTL_FILE"
  else
    warn "fs.inotify.max_user_instances is $cur (< $MIN_INOTIFY_INSTANCES) and cannot be raised here;" \
         "keep the number of concurrently running test hosts small"
  fi
fi
info "fs.inotify.max_user_instances = $(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo '?')"

# ---------------------------------------------------------------------------
# 3. SSH keypair (machine-level cache, shared by every checkout)
# ---------------------------------------------------------------------------
log "Checking test SSH key"
key="$cache_dir/id_ed25519"
if [[ ! -s $key || ! -s $key.pub ]]; then
  rm -f "$key" "$key.pub"
  ssh-keygen -q -t ed25519 -N '' -C "dialysis-ops-testhost" -f "$key"
  did+=("created SSH key $key")
fi
chmod 0600 "$key"
info "$key"

# ---------------------------------------------------------------------------
# 4. image
# ---------------------------------------------------------------------------
# The hash covers every file of the given recipe directories (names +
# contents; README.md excluded) and the public key that the image authorises.
recipe_hash() {
  local dir
  (
    for dir in "$@"; do
      (cd "$dir" && find . -type f ! -name README.md -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    done
    sha256sum < "$key.pub"
  ) | sha256sum | cut -c1-12
}

# First URI of this machine's apt sources that serves <suite> main (one-line
# *.list and deb822 *.sources formats). Never hard-coded in the repository.
apt_mirror_for() {
  local suite=$1 etc=${2:-/etc/apt} f
  local -a files=()
  [[ -f $etc/sources.list ]] && files+=("$etc/sources.list")
  for f in "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
  done
  for f in "${files[@]}"; do
    if [[ $f == *.sources ]]; then
      awk -v suite="$suite" '
        function flush() {
          if (types ~ /(^| )deb( |$)/ && suites ~ ("(^| )" suite "/?( |$)") &&
              comps ~ /(^| )main( |$)/ && tolower(enabled) != "no" && uris != "")
            { split(uris, u, " "); print u[1]; found = 1; exit }
          types = suites = comps = uris = enabled = ""; key = ""
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ { if (key != "") { sub(/^[ \t]+/, ""); val[key] = val[key] " " $0; assign() } next }
        {
          key = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
          gsub(/^[ \t]+|[ \t]+$/, "", v); val[key] = v; assign()
        }
        function assign() {
          if (key == "types") types = val[key]; else if (key == "suites") suites = val[key]
          else if (key == "components") comps = val[key]; else if (key == "uris") uris = val[key]
          else if (key == "enabled") enabled = val[key]
        }
        END { if (!found) flush() }' "$f"
    else
      awk -v suite="$suite" '
        { sub(/#.*/, "") }
        $1 == "deb" {
          i = 2
          if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
          uri = $i; s = $(i + 1); sub(/\/$/, "", s)
          if (s != suite) next
          for (j = i + 2; j <= NF; j++) if ($j == "main") { print uri; exit }
        }' "$f"
    fi
  done | grep -E '^(https?|ftp|file):' | head -n1
}

# Unmount anything left below a directory (e.g. /proc of an interrupted
# debootstrap), then delete it without crossing into other file systems.
remove_tree() {
  local dir=$1 m
  [[ -e $dir ]] || return 0
  dir=$(realpath "$dir")
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
  rm -rf --one-file-system "$dir"
}

# build_image NAME REPO "PACKAGES" CUSTOMIZE... : debootstrap a rootfs with the
# packages, run each customize script on it (args: ROOTFS PUBKEY), tar it and
# podman build REPO:<hash> (+ :latest) FROM scratch. Nothing is built when the
# image of the recipe's hash exists; the rootfs tar is kept per hash, so a
# deleted image is rebuilt without the network. Sets built_tag.
build_image() {
  local name=$1 repo=$2 packages=$3 hash=$4; shift 4
  local tag="$repo:$hash" build_dir="$build_root/$name/$hash" rootfs t0 script old mirror
  log "Checking image $tag"
  if ((rebuild)) || ! podman image exists "$tag"; then
    if ((rebuild)) || [[ ! -s $build_dir/rootfs.tar ]]; then
      mirror=${DIALYSIS_TESTHOST_MIRROR:-$(apt_mirror_for "$TESTHOST_SUITE" || true)}
      # debootstrap uses wget: honour an apt proxy if this machine has one.
      eval "$(apt-config shell APT_HTTP_PROXY Acquire::http::Proxy APT_HTTPS_PROXY Acquire::https::Proxy 2>/dev/null || true)"
      if [[ -n ${APT_HTTP_PROXY:-} && ${APT_HTTP_PROXY} != DIRECT && -z ${http_proxy:-} ]]; then export http_proxy=$APT_HTTP_PROXY; fi
      if [[ -n ${APT_HTTPS_PROXY:-} && ${APT_HTTPS_PROXY} != DIRECT && -z ${https_proxy:-} ]]; then export https_proxy=$APT_HTTPS_PROXY; fi

      remove_tree "$build_dir"
      mkdir -p "$build_dir"
      rootfs="$build_dir/rootfs"
      log "debootstrap --variant=$TESTHOST_VARIANT $TESTHOST_SUITE for $name (mirror: ${mirror:-debootstrap default}); ~1 min"
      t0=$SECONDS
      if ! debootstrap --variant="$TESTHOST_VARIANT" --include="$packages" \
            "$TESTHOST_SUITE" "$rootfs" ${mirror:+"$mirror"} > "$build_dir/debootstrap.log" 2>&1; then
        tail -n 30 "$build_dir/debootstrap.log" >&2
        [[ -f $rootfs/debootstrap/debootstrap.log ]] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
        die "debootstrap failed (full log: $build_dir/debootstrap.log)"
      fi
      info "debootstrap took $((SECONDS - t0)) s"
      for script in "$@"; do
        bash "$script" "$rootfs" "$key.pub"
      done
      tar --numeric-owner --xattrs --xattrs-include='*' -C "$rootfs" \
          --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' \
          -cf "$build_dir/rootfs.tar.tmp" .
      mv -f "$build_dir/rootfs.tar.tmp" "$build_dir/rootfs.tar"
      remove_tree "$rootfs"
      did+=("built rootfs $build_dir/rootfs.tar")
    else
      info "reusing $build_dir/rootfs.tar"
    fi
    log "podman build $tag"
    podman build --pull=never --network=none --quiet \
      --label "org.opencontainers.image.title=dialysis-ops-$name" \
      --label "dialysis-ops.$name.recipe-hash=$hash" \
      -f "$recipe_dir/Containerfile" -t "$tag" "$build_dir" >/dev/null
    did+=("built image $tag")
    # Old rootfs builds of this image are of no further use.
    for old in "$build_root/$name"/*; do
      [[ -d $old && $old != "$build_dir" ]] && remove_tree "$old"
    done
  else
    info "image exists (recipe unchanged)"
  fi
  if [[ $(podman image inspect --format '{{.Id}}' "$repo:latest" 2>/dev/null || true) \
        != $(podman image inspect --format '{{.Id}}' "$tag") ]]; then
    podman tag "$tag" "$repo:latest"
    did+=("tagged $repo:latest -> $tag")
  fi
  built_tag=$tag
}

# shellcheck source=tests/testhosts/rootfs.conf
source "$recipe_dir/rootfs.conf"
# shellcheck source=lab/image/rootfs.conf
source "$lab_recipe_dir/rootfs.conf"
build_root="$cache_dir/build"
# Builds of the layout before the lab image (build/<hash>/) are of no further use.
for old in "$build_root"/*; do
  [[ -d $old && $(basename "$old") != testhost && $(basename "$old") != lab ]] && remove_tree "$old"
done

build_image testhost "$IMAGE_REPO" "$(IFS=,; echo "${TESTHOST_PACKAGES[*]}")" \
  "$(recipe_hash "$recipe_dir")" "$recipe_dir/customize-rootfs.sh"
tag=$built_tag
if ((with_lab)); then
  build_image lab "$LAB_IMAGE_REPO" "$(IFS=,; echo "${TESTHOST_PACKAGES[*]},${LAB_PACKAGES[*]}")" \
    "$(recipe_hash "$recipe_dir" "$lab_recipe_dir")" "$recipe_dir/customize-rootfs.sh" \
    "$lab_recipe_dir/customize-lab.sh"
  lab_tag=$built_tag
fi

# Smoke test: the runtime settings work (ulimits, runc) and the image is sane.
log "Smoke test"
podman run --rm --network=none "$tag" /bin/sh -c \
  'test -x /usr/sbin/sshd && test -s /root/.ssh/authorized_keys && python3 -c "import psutil" && ulimit -n' \
  > /dev/null || die "smoke test of $tag failed"
if ((with_lab)); then
  podman run --rm --network=none "$lab_tag" /bin/sh -c \
    'test -x /usr/lib/postgresql/15/bin/postgres && test -x /usr/sbin/mariadbd && test -x /usr/bin/pg_repack \
     && test -x /usr/bin/mariabackup && python3 -c "import psycopg2, pymysql"' \
    > /dev/null || die "smoke test of $lab_tag failed"
fi
info "ok"

# ---------------------------------------------------------------------------
log "Done in $((SECONDS - t_start)) s"
if ((${#did[@]})); then
  for d in "${did[@]}"; do info "- $d"; done
else
  info "- nothing to do, everything was already set up"
fi
info "image:   $tag (also $IMAGE_REPO:latest)"
((with_lab)) && info "lab:     $lab_tag (also $LAB_IMAGE_REPO:latest)"
info "SSH key: $key"
info "next:    molecule test -s inspection   (with .venv/bin first on PATH)"
