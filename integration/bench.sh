#!/usr/bin/env bash
# `make bench`: husk pull into a cold store, timed against podman pull and
# skopeo copy from the same loopback docker-registry in the same run. As
# root it runs the benchmark as husk-sub (an unprivileged user with subuid
# ranges, as podman needs); otherwise as the calling user.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
TAGS=${TAGS:-exclude_graphdriver_btrfs exclude_graphdriver_devicemapper exclude_graphdriver_zfs containers_image_openpgp netgo osusergo}
RUNS=${RUNS:-3}
# BENCH_ONLY=start: only the start bench (husk run vs bwrap and podman run);
# BENCH_ONLY=build: only the build bench (husk build vs podman build).
# BENCH_ONLY=save: only the push and save/load benches (husk push, save and
# load vs podman's; push vs skopeo's too).
# BENCH_ONLY=squash: only the single-file image bench (squashfs on an sshfs
# mount, as root; the figures that need the mount are skipped otherwise).
# BENCH_ONLY=usernet: only the user-network bench (iperf3 between two
# containers on a user-defined network vs host loopback; the start latency
# a user network adds).
# Leave six minutes between two runs: each ends by removing its stores,
# and ext4 without a journal keeps from reuse, for up to six minutes, the
# inodes just freed, looking at each of them on every inode it allocates
# (fs/ext4/ialloc.c, recently_deleted). A load or pull of thousands of
# files then costs up to a second more for every tool, which halves the
# gap between husk and the others (see timePulls).
EXTRA=""
[ "${BENCH_ONLY:-}" = start ] && EXTRA=-only-start
[ "${BENCH_ONLY:-}" = build ] && EXTRA=-only-build
[ "${BENCH_ONLY:-}" = save ] && EXTRA=-only-save
[ "${BENCH_ONLY:-}" = squash ] && EXTRA=-only-squash
[ "${BENCH_ONLY:-}" = usernet ] && EXTRA=-only-usernet

[ -x ./husk ] || make husk

WORK=$(mktemp -d /var/tmp/husk-bench.XXXXXX)
chmod 0755 "$WORK"
# The sshfs mount of the squash bench (sshfs.sh), unmounted before WORK goes.
cleanup() {
	[ -d "$WORK/sshfs" ] && bash integration/sshfs.sh stop "$WORK/sshfs"
	rm -rf "$WORK" 2>/dev/null || echo "bench.sh: could not remove $WORK" >&2
}
TOP=$PWD
trap 'cd "$TOP" && cleanup' EXIT

"$GO" build -tags "$TAGS" -o "$WORK/bench" ./integration/bench
cp husk "$WORK/husk"
chmod 0755 "$WORK/husk" "$WORK/bench"

if [ "$(id -u)" = 0 ]; then
	bash integration/prepare.sh
	install -d -m 0700 -o husk-sub -g "$(id -g husk-sub)" "$WORK/run" "$WORK/tmp"
	SHARED=""
	if [ -z "${BENCH_ONLY:-}" ] || [ "${BENCH_ONLY:-}" = squash ]; then
		bash integration/sshfs.sh start "$WORK/sshfs"
		bash integration/sshfs.sh mount "$WORK/sshfs" husk-sub
		bash integration/sshfs.sh mount-uncached "$WORK/sshfs" husk-sub
		SHARED="-shared $WORK/sshfs/mnt-husk-sub -shared-uncached $WORK/sshfs/mnt-husk-sub-uncached"
	fi
	cd "$WORK"
	runuser -u husk-sub -- env -i HOME="$WORK/run" USER=husk-sub LOGNAME=husk-sub \
		PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin TMPDIR="$WORK/tmp" \
		"$WORK/bench" -husk "$WORK/husk" -work "$WORK/run" -runs "$RUNS" $EXTRA $SHARED
else
	mkdir -m 0700 "$WORK/run"
	"$WORK/bench" -husk "$WORK/husk" -work "$WORK/run" -runs "$RUNS" $EXTRA
fi
