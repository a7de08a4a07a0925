#!/usr/bin/env bash
# A real network filesystem for the placement tests: sshfs over loopback.
# This kernel has no NFS; sshfs has the constraints that matter (no device
# nodes, no foreign owners, no trusted xattrs, no atomic rename across
# clients, each metadata call a round trip). Run as root by prepare.sh and
# run.sh, all state in one directory DIR:
#   sshfs.sh start DIR       sshd on a 127.0.0.1 port, own config and host
#                            keys in DIR (DIR/port, DIR/sshd.pid)
#   sshfs.sh mount DIR USER  DIR/export-USER (the user's, the "server" side)
#                            mounted by USER, with a key made here, on
#                            DIR/mnt-USER
#   sshfs.sh mount-uncached DIR USER
#                            the same export mounted again, on
#                            DIR/mnt-USER-uncached, with the client's caches
#                            off (sshfs's directory cache, the kernel's entry
#                            and attribute timeouts): each metadata call a
#                            round trip, as on NFS from a node that has not
#                            read the files lately (make bench's find figure)
#   sshfs.sh check DIR USER  the export walked as root: no device nodes,
#                            fifos, sockets, foreign owners or xattrs
#   sshfs.sh stop DIR        every mount unmounted, sshd killed by its PID
set -euo pipefail

cmd=$1 dir=$2

# mounted reads the mount table: root cannot stat a user's FUSE mount made
# without allow_other, so mountpoint(1) fails on it.
mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

start() {
	install -d -m 0755 "$dir"
	if [ -f "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
		return 0
	fi
	[ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519"
	install -d -m 0755 /run/sshd # sshd's privilege separation directory
	local port
	for _ in $(seq 20); do
		port=$((20000 + RANDOM % 20000))
		ss -Htln "sport = :$port" | grep -q . || break
	done
	# Keys only, from files the harness writes; StrictModes off because DIR
	# sits under /var/tmp (mode 1777), which sshd's path check refuses.
	cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys.%u
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
AllowUsers husk-sub husk-nosub
Subsystem sftp internal-sftp
CONF
	/usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
	echo "$port" >"$dir/port"
	for _ in $(seq 50); do
		[ -f "$dir/sshd.pid" ] && return 0
		sleep 0.1
	done
	echo "sshfs.sh: sshd did not start (see $dir/sshd.log)" >&2
	exit 1
}

# mount_user USER [SUFFIX OPTIONS]: the export of USER on DIR/mnt-USER
# SUFFIX, with sshfs OPTIONS added.
mount_user() {
	local u=$1 suffix=${2:-} extra=${3:-} g home
	g=$(id -g "$u")
	home=$(getent passwd "$u" | cut -d: -f6)
	# A locked password ("!") makes sshd refuse the account without PAM;
	# "*" is no password either, but not locked.
	if [ "$(getent shadow "$u" | cut -d: -f2)" = "!" ]; then
		usermod -p '*' "$u"
	fi
	install -d -m 0700 -o "$u" -g "$g" "$dir/export-$u" "$dir/mnt-$u$suffix" "$dir/key-$u"
	[ -f "$dir/key-$u/id" ] || runuser -u "$u" -- ssh-keygen -q -t ed25519 -N '' -f "$dir/key-$u/id"
	install -m 0644 "$dir/key-$u/id.pub" "$dir/authorized_keys.$u"
	if mounted "$dir/mnt-$u$suffix"; then
		return 0
	fi
	# HOME for ssh's own files: the user's, not the mount.
	runuser -u "$u" -- env HOME="$home" sshfs -p "$(cat "$dir/port")" \
		-o IdentityFile="$dir/key-$u/id",BatchMode=yes,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,LogLevel=ERROR$extra \
		"$u@127.0.0.1:$dir/export-$u" "$dir/mnt-$u$suffix"
}

# check lists, one a line, what on the export a shared filesystem could
# not hold; nothing when all is well.
check() {
	local u=$1
	find "$dir/export-$u" -mindepth 1 \( ! -user "$u" -o -type b -o -type c -o -type p -o -type s \) -printf 'foreign or special: %M %u %p\n'
	find "$dir/export-$u" -mindepth 1 -print0 | xargs -0r getfattr -h -m - -d --absolute-names 2>/dev/null | grep '^# file:' || true
}

stop() {
	# No test -d: it stats, which root may not on the user's mount.
	for m in "$dir"/mnt-*; do
		if mounted "$m"; then
			umount "$m" 2>/dev/null || umount -l "$m"
		fi
	done
	if [ -f "$dir/sshd.pid" ]; then
		local pid
		pid=$(cat "$dir/sshd.pid")
		# Its sessions end with their mounts: let it reap them first.
		for _ in $(seq 30); do
			pgrep -P "$pid" >/dev/null || break
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		rm -f "$dir/sshd.pid"
	fi
}

case $cmd in
start) start ;;
mount) mount_user "$3" ;;
mount-uncached) mount_user "$3" -uncached ,dir_cache=no,entry_timeout=0,attr_timeout=0,negative_timeout=0 ;;
check) check "$3" ;;
stop) stop ;;
*)
	echo "sshfs.sh: start|mount|mount-uncached|check|stop DIR [USER]" >&2
	exit 2
	;;
esac
