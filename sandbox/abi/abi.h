// The boundary between husk's Go and its C executor, defined once: the
// encoding of the spec the C init runs, its tags and operation kinds, the
// inherited descriptors, the environment variables that select a
// pre-runtime entry, the status pipe's words and the dial protocol of
// published ports. The C includes this header; Go reads the same values
// through cgo (package abi), so nothing here is spelled twice.
#ifndef HUSK_ABI_H
#define HUSK_ABI_H

// ---- the spec: NUL-terminated tokens, each record a one-letter tag and
// its fields. The first record is HUSK_TAG_VERSION with
// HUSK_SPEC_VERSION; a decoder refuses any other. ----

#define HUSK_SPEC_VERSION 1
// A spec larger than this is refused: it is a few kilobytes in practice,
// a seccomp program included.
#define HUSK_SPEC_MAX (16 << 20)
// Paths longer than this are refused (PATH_MAX, less room for a prefix).
#define HUSK_PATH_MAX 4000
#define HUSK_MAX_ROOT_OPS 8
#define HUSK_MAX_FILES 8
#define HUSK_MAX_CAPS 64
#define HUSK_MAX_GROUPS 64
#define HUSK_MAX_RLIMITS 16
#define HUSK_MAX_HOOKS 16
#define HUSK_MAX_SYSCTLS 32

enum husk_tag {
	HUSK_TAG_VERSION = 'V',      // version
	HUSK_TAG_HOSTNAME = 'h',     // hostname
	HUSK_TAG_CWD = 'c',          // working directory
	HUSK_TAG_USER = 'u',         // user[:group], names or ids ("": the image's)
	HUSK_TAG_SCRATCH = 's',      // the scratch directory the root is built in
	HUSK_TAG_INUSE = 'i',        // the image's in-use lock file ("": none)
	HUSK_TAG_IMAGE_DIR = 'x',    // a directory whose absence means the image went away
	HUSK_TAG_ARG = 'a',          // one argument of the process, in order
	HUSK_TAG_ENV = 'e',          // one KEY=VALUE of the process's environment
	HUSK_TAG_KEEP_ID = 'k',      // no fields: keep the caller's ids
	HUSK_TAG_NO_SETGROUPS = 'g', // no fields: setgroups is denied
	HUSK_TAG_LOOPBACK = 'l',     // no fields: bring lo up without a network
	HUSK_TAG_READONLY = 'y',     // no fields: the root is read-only
	HUSK_TAG_NO_NEW_PRIVS = 'z', // no fields
	HUSK_TAG_TERMINAL = 't',     // no fields: the process gets a pty
	HUSK_TAG_HOLD = 'W',         // no fields: run --join; in an init spec, a holding process instead of the command;
	                             // in an exec spec, a task that enters no Landlock domain of its own unless it keeps CAP_SYS_PTRACE
	HUSK_TAG_ROOT_OP = 'r',      // an operation building the root: HUSK_OP_FIELDS
	HUSK_TAG_FILE = 'f',         // a generated file: path, content
	HUSK_TAG_OP = 'o',           // a setup operation inside the root: HUSK_OP_FIELDS
	HUSK_TAG_CAP = 'p',          // a capability kept, by number
	HUSK_TAG_SECCOMP = 'b',      // the seccomp program, hex
	HUSK_TAG_NET = 'n',          // mode, tap, ip, netmask, gateway, mtu, dials (0/1), direct ports (0/1), mac
	HUSK_TAG_GROUP_ADD = 'G',    // a supplementary group: a name in the image's /etc/group, or a number
	HUSK_TAG_RLIMIT = 'R',       // resource (RLIMIT_*'s number), soft, hard (decimal; RLIM_INFINITY's value for none)
	HUSK_TAG_HOOK_STATE = 'O',   // the OCI state (JSON) the hooks read on stdin
	// An OCI hook (CDI's): when (HUSK_HOOK_CREATE or HUSK_HOOK_START), timeout in seconds (0: none),
	// path, the count of arguments, the count of variables, then the arguments, then the variables.
	HUSK_TAG_HOOK = 'H',
	// OCI create (husk oci): a FIFO's host path. The init opens it before
	// the pivot, says HUSK_STATUS_CREATED once the root is ready, waits
	// for a byte on it (husk oci start) before the startContainer hooks
	// and the process, and does not die with the host side.
	HUSK_TAG_START_FIFO = 'F',
	// A namespaced sysctl (an OCI bundle's linux.sysctl): key (dotted),
	// value; written through /proc/sys before the pivot, in the
	// sandbox's own network and IPC namespaces.
	HUSK_TAG_SYSCTL = 'S',
	// A network namespace to join (an OCI bundle's, such as rootless
	// podman's): its path. The init joins it first, in place of a new one.
	HUSK_TAG_NETNS = 'N',
	// An exec spec (husk exec: a process in a running container) has
	// this record right after the version, then only the process's
	// records: c u a e k g z t p b G R W, and w (an exec'd process gets
	// the container's added groups and rlimits, as Docker's does). An
	// init spec has neither E nor w; each decoder refuses the other's.
	HUSK_TAG_EXEC = 'E',         // no fields: an exec spec
	HUSK_TAG_WATCH_BINDS = 'w',  // no fields: send a bind listener on HUSK_FD_EXEC_BINDS (port_handler=direct)
};

// An operation's fields: kind (a number, enum husk_op_kind), source, target,
// fstype, mount flags (decimal), data, optional (0/1).
#define HUSK_OP_FIELDS 7
#define HUSK_NET_FIELDS 9
#define HUSK_HOOK_FIELDS 5
#define HUSK_HOOK_CREATE 'c' // createContainer: before the pivot, the host's path, in the root
#define HUSK_HOOK_START 's'  // startContainer: after the pivot, the container's path

// The kinds of setup operation, one case each in the executor's loop (as
// bubblewrap's SetupOpType).
enum husk_op_kind {
	HUSK_OP_MOUNT = 1,     // mount fstype at target with flags and data
	HUSK_OP_BIND,          // recursive bind of a host path; MS_RDONLY makes it read-only
	HUSK_OP_BIND_DEV,      // bind a host device node on an empty file
	HUSK_OP_MKDIR,         // make a directory inside the root
	HUSK_OP_SYMLINK,       // target -> source
	HUSK_OP_MASK,          // /dev/null on a file, an empty read-only tmpfs on a directory
	HUSK_OP_READONLY,      // bind target on itself read-only
	HUSK_OP_FILE,          // bind a generated file (source, in the scratch dir) on target
	HUSK_OP_FUSE_OVERLAY,  // run fuse-overlayfs (source) with options data on the root
	HUSK_OP_LAST = HUSK_OP_FUSE_OVERLAY,
};

// ---- the inherited descriptors of a sandbox's PID 1 ----

#define HUSK_FD_STATUS 3  // the status pipe to the host side
#define HUSK_FD_CONSOLE 4 // with a pty: the socket its master goes back on
// A prelaunch's init gets its ID-map handshake and network socket here.
#define HUSK_FD_PRELAUNCH_SYNC 6
#define HUSK_FD_PRELAUNCH_NET 7

// ---- exec's descriptors: the joining process (HUSK_ENV_NSENTER_PID) has
// its spec, read-only, where a sandbox's status pipe would be (so a
// failure's status line goes nowhere: stderr has it), HUSK_FD_CONSOLE with
// a pty, and the socket for its bind listener with HUSK_TAG_WATCH_BINDS.
// Secrets in the environment travel there, never in argv. ----

#define HUSK_FD_EXEC_SPEC HUSK_FD_STATUS
#define HUSK_FD_EXEC_BINDS 5

// The status pipe's lines: WORD SP TEXT NL.
#define HUSK_STATUS_RUNNING "running" // the user's process started: its pid
#define HUSK_STATUS_ERROR "error"     // why the sandbox failed
#define HUSK_STATUS_CREATED "created" // HUSK_TAG_START_FIFO: ready, waiting for start

// ---- the environment: each pre-runtime entry is chosen by one of these ----

#define HUSK_ENV_ROOT "HUSK_ROOT"                 // the store's root
#define HUSK_ENV_CINIT "HUSK_CINIT"             // the C init: its spec's descriptor
#define HUSK_ENV_NSENTER_PID "HUSK_NSENTER_PID" // exec: join this pid's namespaces, run HUSK_FD_EXEC_SPEC
#define HUSK_ENV_NSENTER_TUN "HUSK_NSENTER_TUN" // exec: stdin is /dev/net/tun, opened in the container's network namespace
#define HUSK_ENV_SANDBOX "HUSK_SANDBOX"         // husk as a sandbox's PID 1
#define HUSK_ENV_SANDBOX_NET "HUSK_SANDBOX_NET" // the init's network socket's descriptor
#define HUSK_ENV_CONTAINER "HUSK_CONTAINER"     // the container's ID
#define HUSK_ENV_USERNS "HUSK_USERNS"           // husk re-executed in its user namespace
#define HUSK_ENV_USERNS_SYNC "_HUSK_USERNS_SYNC" // the ID-map handshake's descriptor
#define HUSK_USERNS_MAPPED 'M'                   // the handshake's word: the maps are written

// ---- a prelaunch's launch file: HUSK_LAUNCH_MAGIC, then records of
// TAG LENGTH NL BYTES NL ----

#define HUSK_LAUNCH_MAGIC "husk-prelaunch 1\n"
// A launch is ROOT/HUSK_LAUNCH_DIR/HUSK_LAUNCH_PREFIX then the FNV-1a 64
// hash of its key in 16 hex digits; ROOT is HUSK_ENV_ROOT's store root.
#define HUSK_LAUNCH_DIR "startcache"
#define HUSK_LAUNCH_PREFIX "launch-"
// The written-down way into husk's user namespace (usernsentry.c), in the
// same directory: HUSK_ENTRY_MAGIC, then the launch records WATCH, FLAGS,
// MODE, UIDMAP and GIDMAP.
#define HUSK_ENTRY_NAME "userns"
#define HUSK_ENTRY_MAGIC "husk-userns 1\n"

enum husk_launch_tag {
	HUSK_LAUNCH_KEY = 'k',      // the invocation's key (see husk_launch_key)
	HUSK_LAUNCH_WATCH = 'w',    // path NUL identity NUL ..., each file the launch depends on
	HUSK_LAUNCH_FLAGS = 'f',    // the clone flags, decimal
	HUSK_LAUNCH_MODE = 'm',     // the ID-map mode: single or subuid
	HUSK_LAUNCH_UIDMAP = 'u',   // uid_map lines, or newuidmap's path and ranges NUL-separated
	HUSK_LAUNCH_GIDMAP = 'g',   // the same for gids
	HUSK_LAUNCH_ID = 'i',       // the container ID in the spec, replaced by a new one
	HUSK_LAUNCH_STDIN = 'n',    // 1: the process keeps stdin
	HUSK_LAUNCH_NET = 't',      // 1: the builtin network's socket pair
	HUSK_LAUNCH_SPEC = 's',     // the spec without arguments
	HUSK_LAUNCH_ENTRY = 'e',    // the entrypoint, NUL-separated
	HUSK_LAUNCH_DEFAULT = 'd',  // the default command, NUL-separated
	HUSK_LAUNCH_JSON = 'j',     // the spec as the container's record keeps it (Go only)
	HUSK_LAUNCH_IMAGE = 'x',    // the image's ID (Go only)
	HUSK_LAUNCH_CLAIM = 'c',    // a user-defined network's lease file NUL the reservation it holds NUL (optional)
};

// ---- published ports: a dial request and its reply, each one message ----

// Request: HUSK_DIAL_TCP or HUSK_DIAL_UDP, then the port, big-endian.
#define HUSK_DIAL_REQUEST_LEN 3
#define HUSK_DIAL_TCP 't'
#define HUSK_DIAL_UDP 'u'
// Reply: HUSK_DIAL_OK with the connected socket attached, or
// HUSK_DIAL_FAILED then the reason as text.
#define HUSK_DIAL_OK 0
#define HUSK_DIAL_FAILED 1

#endif
