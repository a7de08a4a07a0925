// Package abi is the boundary between husk's Go and its C executor
// (package executor): the spec's encoding, tags and operation kinds, the
// inherited descriptors, the environment variables that choose a
// pre-runtime entry, the status words, the launch file's records and the
// dial protocol. abi.h defines each value once; this package gives Go the
// same values through cgo.
package abi

// #cgo CFLAGS: -Wall -Wextra -Werror
// #include "abi.h"
import "C"

// The spec's encoding.
const (
	SpecVersion = C.HUSK_SPEC_VERSION
	SpecMax     = C.HUSK_SPEC_MAX
	PathMax     = C.HUSK_PATH_MAX
	MaxRootOps  = C.HUSK_MAX_ROOT_OPS
	MaxFiles    = C.HUSK_MAX_FILES
	MaxCaps     = C.HUSK_MAX_CAPS
	MaxGroups   = C.HUSK_MAX_GROUPS
	MaxRlimits  = C.HUSK_MAX_RLIMITS
	MaxHooks    = C.HUSK_MAX_HOOKS
	MaxSysctls  = C.HUSK_MAX_SYSCTLS
)

// Tag is a record's tag in the spec.
type Tag byte

const (
	TagVersion     Tag = C.HUSK_TAG_VERSION
	TagHostname    Tag = C.HUSK_TAG_HOSTNAME
	TagCwd         Tag = C.HUSK_TAG_CWD
	TagUser        Tag = C.HUSK_TAG_USER
	TagScratch     Tag = C.HUSK_TAG_SCRATCH
	TagInUse       Tag = C.HUSK_TAG_INUSE
	TagImageDir    Tag = C.HUSK_TAG_IMAGE_DIR
	TagArg         Tag = C.HUSK_TAG_ARG
	TagEnv         Tag = C.HUSK_TAG_ENV
	TagKeepID      Tag = C.HUSK_TAG_KEEP_ID
	TagNoSetgroups Tag = C.HUSK_TAG_NO_SETGROUPS
	TagLoopback    Tag = C.HUSK_TAG_LOOPBACK
	TagReadOnly    Tag = C.HUSK_TAG_READONLY
	TagNoNewPrivs  Tag = C.HUSK_TAG_NO_NEW_PRIVS
	TagTerminal    Tag = C.HUSK_TAG_TERMINAL
	TagHold        Tag = C.HUSK_TAG_HOLD
	TagRootOp      Tag = C.HUSK_TAG_ROOT_OP
	TagFile        Tag = C.HUSK_TAG_FILE
	TagOp          Tag = C.HUSK_TAG_OP
	TagCap         Tag = C.HUSK_TAG_CAP
	TagSeccomp     Tag = C.HUSK_TAG_SECCOMP
	TagNet         Tag = C.HUSK_TAG_NET
	TagExec        Tag = C.HUSK_TAG_EXEC
	TagWatchBinds  Tag = C.HUSK_TAG_WATCH_BINDS
	TagGroupAdd    Tag = C.HUSK_TAG_GROUP_ADD
	TagRlimit      Tag = C.HUSK_TAG_RLIMIT
	TagHookState   Tag = C.HUSK_TAG_HOOK_STATE
	TagHook        Tag = C.HUSK_TAG_HOOK
	TagStartFIFO   Tag = C.HUSK_TAG_START_FIFO
	TagSysctl      Tag = C.HUSK_TAG_SYSCTL
	TagNetNS       Tag = C.HUSK_TAG_NETNS
)

// Op is a setup operation's kind.
type Op int

const (
	OpMount       Op = C.HUSK_OP_MOUNT
	OpBind        Op = C.HUSK_OP_BIND
	OpBindDev     Op = C.HUSK_OP_BIND_DEV
	OpMkdir       Op = C.HUSK_OP_MKDIR
	OpSymlink     Op = C.HUSK_OP_SYMLINK
	OpMask        Op = C.HUSK_OP_MASK
	OpReadonly    Op = C.HUSK_OP_READONLY
	OpFile        Op = C.HUSK_OP_FILE
	OpFuseOverlay Op = C.HUSK_OP_FUSE_OVERLAY
)

// A sandbox's inherited descriptors.
const (
	FdStatus             = C.HUSK_FD_STATUS
	FdConsole            = C.HUSK_FD_CONSOLE
	FdPrelaunchSync      = C.HUSK_FD_PRELAUNCH_SYNC
	FdPrelaunchNet       = C.HUSK_FD_PRELAUNCH_NET
	FdExecSpec           = C.HUSK_FD_EXEC_SPEC
	FdExecBinds          = C.HUSK_FD_EXEC_BINDS
	StatusRunning        = C.HUSK_STATUS_RUNNING
	StatusError          = C.HUSK_STATUS_ERROR
	StatusCreated        = C.HUSK_STATUS_CREATED
	UsernsMapped    byte = C.HUSK_USERNS_MAPPED
)

// The environment variables of the pre-runtime entries and the sandbox.
const (
	EnvRoot       = C.HUSK_ENV_ROOT
	EnvCInit      = C.HUSK_ENV_CINIT
	EnvNsenterPid = C.HUSK_ENV_NSENTER_PID
	EnvNsenterTun = C.HUSK_ENV_NSENTER_TUN
	EnvSandbox    = C.HUSK_ENV_SANDBOX
	EnvSandboxNet = C.HUSK_ENV_SANDBOX_NET
	EnvContainer  = C.HUSK_ENV_CONTAINER
	EnvUserns     = C.HUSK_ENV_USERNS
	EnvUsernsSync = C.HUSK_ENV_USERNS_SYNC
)

// LaunchTag is a record's tag in a prelaunch's launch file.
type LaunchTag byte

// The launch file.
const (
	LaunchMagic             = C.HUSK_LAUNCH_MAGIC
	LaunchDir               = C.HUSK_LAUNCH_DIR
	LaunchPrefix            = C.HUSK_LAUNCH_PREFIX
	EntryName               = C.HUSK_ENTRY_NAME
	EntryMagic              = C.HUSK_ENTRY_MAGIC
	LaunchKey     LaunchTag = C.HUSK_LAUNCH_KEY
	LaunchWatch   LaunchTag = C.HUSK_LAUNCH_WATCH
	LaunchFlags   LaunchTag = C.HUSK_LAUNCH_FLAGS
	LaunchMode    LaunchTag = C.HUSK_LAUNCH_MODE
	LaunchUIDMap  LaunchTag = C.HUSK_LAUNCH_UIDMAP
	LaunchGIDMap  LaunchTag = C.HUSK_LAUNCH_GIDMAP
	LaunchID      LaunchTag = C.HUSK_LAUNCH_ID
	LaunchStdin   LaunchTag = C.HUSK_LAUNCH_STDIN
	LaunchNet     LaunchTag = C.HUSK_LAUNCH_NET
	LaunchSpec    LaunchTag = C.HUSK_LAUNCH_SPEC
	LaunchEntry   LaunchTag = C.HUSK_LAUNCH_ENTRY
	LaunchDefault LaunchTag = C.HUSK_LAUNCH_DEFAULT
	LaunchJSON    LaunchTag = C.HUSK_LAUNCH_JSON
	LaunchImage   LaunchTag = C.HUSK_LAUNCH_IMAGE
	LaunchClaim   LaunchTag = C.HUSK_LAUNCH_CLAIM
)

// The dial protocol of published ports.
const (
	DialRequestLen      = C.HUSK_DIAL_REQUEST_LEN
	DialTCP        byte = C.HUSK_DIAL_TCP
	DialUDP        byte = C.HUSK_DIAL_UDP
	DialOK         byte = C.HUSK_DIAL_OK
	DialFailed     byte = C.HUSK_DIAL_FAILED
)
