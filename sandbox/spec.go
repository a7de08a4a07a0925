// Package sandbox is husk's runtime: the spec of a sandbox, its mounts as
// data, and the init that applies them, pivots, drops privileges and runs
// the user's process as PID 1's only child.
package sandbox

import "husk/network"

// Spec is everything the init needs, decided on the host side before any
// clone and handed to the init as JSON.
type Spec struct {
	ID       string   `json:"id"`
	Hostname string   `json:"hostname"`
	Args     []string `json:"args"`
	Env      []string `json:"env"`
	Cwd      string   `json:"cwd"`

	// UID and GID run the process; resolved against the image's
	// /etc/passwd and /etc/group inside the init, after the root is ready.
	User string `json:"user,omitempty"` // user[:group] as given to -u, "" for the image's
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`

	// KeepID runs the process with the caller's own ids (husk shell,
	// --userns=keep-id): no user lookup, no setuid.
	KeepID bool `json:"keepID,omitempty"`
	// NoSetGroups: the single mapping forbids setgroups(2).
	NoSetGroups bool `json:"noSetGroups,omitempty"`

	Terminal bool `json:"terminal"`
	// Hold (run --join): the init starts a process that only waits, and
	// each task's command runs in the container as an exec.
	Hold bool `json:"hold,omitempty"`

	// GroupAdd are supplementary groups beyond the user's, names resolved
	// in the image's /etc/group, or numbers.
	GroupAdd []string `json:"groupAdd,omitempty"`
	// Rlimits are set before the process's exec (--ulimit, --pids-limit).
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// ShmSize is /dev/shm's size in bytes (0: 64 MiB).
	ShmSize int64 `json:"shmSize,omitempty"`

	// Scratch is an empty directory where the init mounts its private
	// tmpfs; the root is built at Scratch/root by RootOps (an overlay
	// mount, or a bind of the host), whose Target "/" is the root itself.
	Scratch string `json:"scratch"`
	RootOps []Op   `json:"rootOps,omitempty"`
	// Mounts come after the standard ones: volumes, tmpfs.
	Mounts   []Op `json:"mounts,omitempty"`
	ReadOnly bool `json:"readOnly"`
	// Files are generated files bound into the root (/etc/hosts ...).
	Files []File `json:"files,omitempty"`

	// HostSys binds the host's /sys instead of mounting a new sysfs, which
	// the kernel refuses without a network namespace of our own.
	HostSys bool `json:"hostSys"`
	// Loopback: the sandbox has a network namespace of its own, whose lo
	// the init brings up.
	Loopback bool `json:"loopback"`
	// Net is a network beyond lo, set up before the pivot.
	Net *network.Spec `json:"net,omitempty"`

	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`

	Caps       []string `json:"caps"`
	NoNewPrivs bool     `json:"noNewPrivs"`
	// SeccompBPF is the filter compiled on the host side (nil: unconfined),
	// so the init only loads it.
	SeccompBPF []byte `json:"seccompBPF,omitempty"`

	// Hooks are CDI devices' createContainer and startContainer hooks.
	Hooks []Hook `json:"hooks,omitempty"`
	// Sysctls are an OCI bundle's namespaced sysctls, KEY=VALUE, written
	// before the pivot.
	Sysctls []string `json:"sysctls,omitempty"`
}

// File is a generated file bound read-write into the root, as Docker does
// for /etc/hosts, /etc/hostname and /etc/resolv.conf.
type File struct {
	Path    string `json:"path"` // inside the container
	Content string `json:"content"`
}
