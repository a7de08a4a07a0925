// Package profiles holds data only: what Docker gives a container by default.
// Docker's default seccomp profile itself comes from
// github.com/moby/profiles/seccomp (see the seccomp package).
package profiles

// DefaultCaps is Docker's default capability set (moby/moby
// oci/caps/defaults.go), granted inside the user namespace.
var DefaultCaps = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// MaskedPaths are hidden from the container (an empty read-only file or
// directory is mounted over each), as in Docker's default spec.
var MaskedPaths = []string{
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// ReadonlyPaths are remounted read-only, as in Docker's default spec.
var ReadonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}
