#!/usr/bin/env bash
# `make test`: the unit tests and `make lint`, then the integration suite against the real
# binary. As root it first prepares the machine (prepare.sh) and runs the
# suite as two unprivileged users: husk-sub (with /etc/subuid ranges) and
# husk-nosub (without). As an ordinary user it runs the suite as that user.
# With CI=true a skipped integration test fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD

GO=${GO:-go}
TAGS=${TAGS:-exclude_graphdriver_btrfs exclude_graphdriver_devicemapper exclude_graphdriver_zfs containers_image_openpgp netgo osusergo}
CI=${CI:-}
export CI

summary=()
failed=0
note() { summary+=("$1"); }

# A fresh directory every user can enter: CI's clone may sit in a folder
# other users cannot, and the suite runs as other users.
WORK=$(mktemp -d /var/tmp/husk-test.XXXXXX) || exit 1
chmod 0755 "$WORK"
FULL=$WORK/full
SSHFS=$WORK/sshfs

cleanup() {
	# The sshfs mounts and their sshd (prepare.sh started it), by its PID.
	[ -d "$SSHFS" ] && bash "$TOP/integration/sshfs.sh" stop "$SSHFS"
	if mountpoint -q "$FULL" 2>/dev/null; then
		umount "$FULL" || umount -l "$FULL"
	fi
	rm -rf "$WORK" 2>/dev/null || {
		# Leftovers owned by subordinate ids: root can remove them.
		chmod -R u+rwX "$WORK" 2>/dev/null
		rm -rf "$WORK" 2>/dev/null || echo "run.sh: could not remove $WORK" >&2
	}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { echo; echo "=== $*"; }

if [ "$(id -u)" = 0 ]; then
	step "prepare the machine"
	bash integration/prepare.sh "$FULL" "$SSHFS" || { echo "run.sh: prepare.sh failed" >&2; exit 1; }
fi

step "build husk"
make husk || { echo "run.sh: make husk failed" >&2; exit 1; }

# HUSK_INTEGRATION_ONLY=1 skips unit tests and lint, for a quick targeted
# run while working on one feature; `make test` without it runs everything.
if [ -z "${HUSK_INTEGRATION_ONLY:-}" ]; then
	step "unit tests"
	if make unit; then
		note "unit: ok"
	else
		note "unit: FAIL"
		failed=1
	fi

	step "lint: go vet, gofmt, the C with warnings as errors, cppcheck"
	if make lint; then
		note "lint: ok"
	else
		note "lint: FAIL"
		failed=1
	fi
else
	note "unit and lint: not run (HUSK_INTEGRATION_ONLY)"
fi

step "build the integration test binary"
if ! "$GO" test -c -tags "$TAGS" -o "$WORK/integration.test" ./integration; then
	echo "run.sh: go test -c ./integration failed" >&2
	note "integration: does not build"
	failed=1
	printf '%s\n' "${summary[@]}"
	echo "make test: FAIL"
	exit 1
fi
cp husk "$WORK/husk"
chmod 0755 "$WORK/husk" "$WORK/integration.test"

# run_suite USER LOG CMD...: runs the suite, records its counts.
run_suite() {
	local who=$1 log=$2
	shift 2
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local pass fail skip
	pass=$(grep -c -- '^--- PASS' "$log")
	fail=$(grep -c -- '--- FAIL' "$log")
	skip=$(grep -c -- '--- SKIP' "$log")
	local verdict=ok
	if [ "$rc" != 0 ]; then
		verdict="FAIL (exit $rc)"
		failed=1
	fi
	if [ "$skip" != 0 ] && [ "$CI" = true ]; then
		verdict="FAIL ($skip skipped under CI=true)"
		failed=1
		grep -- '--- SKIP' "$log" | sed 's/^/  /'
	fi
	note "integration as $who: $verdict: $pass passed, $fail failed, $skip skipped"
}

SUITE_ARGS=(-test.v -test.timeout 30m)
if [ -n "${HUSK_TEST_RUN:-}" ]; then
	SUITE_ARGS+=(-test.run "$HUSK_TEST_RUN")
fi
# HUSK_TEST_COUNT=N runs each test N times: a flake hunt, with HUSK_TEST_RUN.
if [ -n "${HUSK_TEST_COUNT:-}" ]; then
	SUITE_ARGS+=(-test.count "$HUSK_TEST_COUNT")
fi

cd "$WORK"
if [ "$(id -u)" = 0 ]; then
	for who in husk-sub husk-nosub; do
		step "integration tests as $who"
		home=$(getent passwd "$who" | cut -d: -f6)
		tmp=$WORK/tmp-$who
		install -d -m 0700 -o "$who" -g "$(id -g "$who")" "$tmp"
		# The user's own sshfs mount of its export, for placement_test.go.
		bash "$TOP/integration/sshfs.sh" mount "$SSHFS" "$who" || note "sshfs mount for $who: FAIL"
		# env -i: a login-less environment, as under su or Slurm. No
		# XDG_RUNTIME_DIR: husk must manage without one.
		run_suite "$who" "$WORK/log-$who" \
			runuser -u "$who" -- env -i HOME="$home" USER="$who" LOGNAME="$who" \
			PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
			CI="$CI" TMPDIR="$tmp" HUSK_BIN="$WORK/husk" HUSK_TEST_FULLDISK="$FULL" \
			HUSK_TEST_SSHFS="$SSHFS/mnt-$who" HUSK_TEST_SSHFS_EXPORT="$SSHFS/export-$who" \
			"$WORK/integration.test" "${SUITE_ARGS[@]}"
		# What the suite left on the export, walked as root: a shared
		# filesystem holds no device nodes, foreign owners or xattrs.
		bad=$(bash "$TOP/integration/sshfs.sh" check "$SSHFS" "$who")
		if [ -n "$bad" ]; then
			printf '%s\n' "$bad"
			note "sshfs export of $who: FAIL (device nodes, foreign owners or xattrs, above)"
			failed=1
		fi
	done
else
	who=$(id -un)
	step "integration tests as $who"
	mkdir -m 0700 "$WORK/tmp-$who"
	run_suite "$who" "$WORK/log-$who" \
		env -u XDG_RUNTIME_DIR -u HUSK_ROOT TMPDIR="$WORK/tmp-$who" HUSK_BIN="$WORK/husk" \
		"$WORK/integration.test" "${SUITE_ARGS[@]}"
fi
cd - >/dev/null

echo
echo "=== summary"
printf '%s\n' "${summary[@]}"
if [ "$failed" != 0 ]; then
	echo "make test: FAIL"
	exit 1
fi
echo "make test: PASS"
