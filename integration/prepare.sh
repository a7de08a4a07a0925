#!/usr/bin/env bash
# Prepares this machine for husk's integration tests. Run as root by
# `make test` (through integration/run.sh). Idempotent, and quick when the
# machine is already prepared:
#   - Debian packages the suite needs, installed only when missing;
#   - husk-sub (with /etc/subuid and /etc/subgid ranges) and husk-nosub (with
#     none, as on many clusters), both with home directories;
#   - munged, slurmctld and slurmd: one Slurm node on loopback (slurm.sh);
#   - /dev/fuse and /dev/net/tun at mode 0666, as stock distributions ship them;
#   - a small tmpfs for the disk-full test, when a path is given as $1
#     (run.sh unmounts it at the end);
#   - an sshd on a 127.0.0.1 port for the sshfs mounts of the placement
#     tests, its state in the directory given as $2 (sshfs.sh; run.sh mounts
#     each user's export and stops it all at the end).
# It stops and disables nothing that is not its own.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "prepare.sh: must run as root (it installs packages and creates users)" >&2
	exit 1
fi

FULLDISK=${1:-}
SSHFS=${2:-}

# Each package and why:
#   uidmap          newuidmap/newgidmap: the subuid mapping of husk-sub
#   fuse-overlayfs  the root-filesystem strategy where native overlay is refused
#   fuse3           fusermount3, to unmount fuse-overlayfs as a user
#   slirp4netns passt  network backends husk info reports (and later issues use)
#   libseccomp-dev  libseccomp.a, linked statically into husk
#   pkg-config      how the Makefile finds libseccomp
#   cppcheck        `make lint`'s checker of the C executor
#   busybox-static  the test images' userland, made by the harness
#   squashfs-tools  mksquashfs, for the enroot-style .sqsh that squash_test.go runs
#   docker-registry the real registry server the tests pull from
#   gcc make        the cgo build of husk
#   python3         the python image the harness builds from the host's (usernetapp_test.go)
#   iproute2        ip, for the network tests of later issues
#   slurm-wlm munge a single-node Slurm for slurm_test.go (set up by slurm.sh)
#   libpmix-dev     libpmix.so, which Debian's mpi/pmix plugin of slurmd dlopens
#                   (without it `srun --mpi=pmix` cannot launch a task)
#   openmpi-bin libopenmpi-dev  Open MPI and mpicc: slurm_test.go compiles an
#                   MPI hello and builds its image from the host's libraries
#   openssh-server sshfs attr  a real network filesystem over loopback for
#                   placement_test.go (sshfs.sh), getfattr to walk its export
#   debootstrap dpkg-dev  a Debian bookworm base and a flat apt repository
#                   (dpkg-scanpackages) for buildapt_test.go's RUN apt-get install
#   bubblewrap podman skopeo iperf3 runc  references for `make bench` (runc: podman run in the start bench)
NEEDED="uidmap fuse-overlayfs fuse3 slirp4netns passt libseccomp-dev pkg-config cppcheck busybox-static squashfs-tools docker-registry gcc make iproute2 slurm-wlm munge libpmix-dev openmpi-bin libopenmpi-dev openssh-server sshfs attr python3 debootstrap dpkg-dev"
BENCH="bubblewrap podman skopeo iperf3 runc"

installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# apt_get is apt-get that waits for another installer's dpkg lock (up to
# 10 minutes), and tries again when it lost a race for it.
apt_get() {
	local i
	for i in 1 2 3; do
		apt-get -o DPkg::Lock::Timeout=600 "$@" && return 0
		sleep 10
	done
	return 1
}

missing=""
for p in $NEEDED $BENCH; do
	installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "prepare: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt_get update -qq
	# The suite's own packages must install; the bench references may not
	# exist on every release, and bench says so when one is absent.
	for p in $NEEDED; do
		installed "$p" || apt_get install -y -qq --no-install-recommends "$p" >/dev/null
	done
	for p in $BENCH; do
		installed "$p" || apt_get install -y -qq --no-install-recommends "$p" >/dev/null ||
			echo "prepare: $p is not installable here; make bench will skip it"
	done
fi

# A Debian bookworm base (a root filesystem's tarball) and a flat apt
# repository holding hello, which has no dependencies beyond the base:
# buildapt_test.go builds `RUN apt-get install -y hello` from it, served on
# the test's loopback, as each user. Made once, from Debian's mirror.
DEB=/var/cache/husk-test/debian
if [ ! -s "$DEB/bookworm.tar" ] || [ ! -s "$DEB/repo/Packages" ]; then
	echo "prepare: making the Debian bookworm base and apt repository in $DEB"
	rm -rf "$DEB.tmp"
	mkdir -p "$DEB.tmp/repo"
	debootstrap --variant=minbase bookworm "$DEB.tmp/root" http://deb.debian.org/debian >/dev/null
	chroot "$DEB.tmp/root" sh -c 'cd /tmp && apt-get -qq -o APT::Sandbox::User=root update && apt-get -qq -o APT::Sandbox::User=root download hello' >/dev/null
	mv "$DEB.tmp/root"/tmp/hello_*.deb "$DEB.tmp/repo/"
	chroot "$DEB.tmp/root" apt-get clean
	rm -rf "$DEB.tmp/root"/var/lib/apt/lists/*
	tar -C "$DEB.tmp/root" -cf "$DEB.tmp/bookworm.tar" .
	(cd "$DEB.tmp/repo" && dpkg-scanpackages . /dev/null > Packages 2>/dev/null)
	rm -rf "$DEB.tmp/root" "$DEB"
	mv "$DEB.tmp" "$DEB"
fi
chmod -R a+rX "$DEB"

# Users. They may exist already (made by hand with these names): keep them,
# and only fix their home directories and ranges.
ensure_user() {
	local u=$1
	if ! getent passwd "$u" >/dev/null; then
		useradd --create-home --shell /bin/sh "$u"
	fi
	local home
	home=$(getent passwd "$u" | cut -d: -f6)
	if [ ! -d "$home" ]; then
		mkdir -p "$home"
		chown "$u:" "$home"
		chmod 0755 "$home"
	fi
}
ensure_user husk-sub
ensure_user husk-nosub

touch /etc/subuid /etc/subgid
# husk-nosub has no ranges at all: drop any entry someone gave it.
for f in /etc/subuid /etc/subgid; do
	if grep -q '^husk-nosub:' "$f" || grep -q "^$(id -u husk-nosub):" "$f"; then
		sed -i -e '/^husk-nosub:/d' -e "/^$(id -u husk-nosub):/d" "$f"
	fi
done
# husk-sub needs at least one range of 65536 (uids 0..65535 inside, plus its
# own uid as 0). Keep a range it already has.
has_range() {
	awk -F: -v u=husk-sub -v id="$(id -u husk-sub)" \
		'($1 == u || $1 == id) && $3 >= 65536 { found = 1 } END { exit !found }' "$1"
}
has_range /etc/subuid || usermod --add-subuids 200000-265535 husk-sub
has_range /etc/subgid || usermod --add-subgids 200000-265535 husk-sub

# Stock distributions ship these world-usable; containers make them 0660.
for d in /dev/fuse /dev/net/tun; do
	[ -e "$d" ] && chmod 0666 "$d"
done
if [ ! -e /dev/net/tun ]; then
	mkdir -p /dev/net
	mknod -m 0666 /dev/net/tun c 10 200 || echo "prepare: cannot create /dev/net/tun"
fi

# A directory under /run where the tests, as the users, bind a socket as a
# host daemon would (shellsock_test.go: husk shell must not reach it).
install -d -m 1777 /run/husk-test

# A single-node Slurm on loopback, left running (slurm.sh).
bash "$(dirname "$0")/slurm.sh" || { echo "prepare: Slurm did not start (above: why)" >&2; exit 1; }

# sshd for the sshfs mounts (sshfs.sh): started here, stopped by run.sh.
if [ -n "$SSHFS" ]; then
	bash "$(dirname "$0")/sshfs.sh" start "$SSHFS" || { echo "prepare: sshd did not start (above: why)" >&2; exit 1; }
fi

# A 40 MB tmpfs for the disk-full test: big enough for the busybox image,
# too small for the 100 MB layer.
if [ -n "$FULLDISK" ]; then
	mkdir -p "$FULLDISK"
	if ! mountpoint -q "$FULLDISK"; then
		mount -t tmpfs -o size=40m,mode=1777 husk-test-full "$FULLDISK"
	fi
fi
exit 0
