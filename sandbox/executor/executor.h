// The C executor's own interfaces between its files: the decoded spec,
// paths inside the root, users and groups, the reaper's loop, descriptor
// passing, and the pre-runtime entries that entry.c dispatches. What Go
// shares with the C is in abi.h, never here.
#ifndef HUSK_EXECUTOR_H
#define HUSK_EXECUTOR_H
#include <stddef.h>
#include <sys/types.h>

#include "abi.h"

// ---- the spec (spec.c) ----

struct husk_op {
	int kind; // enum husk_op_kind
	const char *source, *target, *fstype, *data;
	unsigned long flags;
	int optional;
};

struct husk_net {
	const char *mode, *tap, *ip, *mask, *gw;
	int mtu, dials, direct;
	unsigned char mac[6]; // the tap device's address
	int fd; // the init's network socket: not in the spec, set by the init
};

struct husk_rlimit {
	int resource;
	unsigned long soft, hard;
};

// An OCI hook from a CDI spec (hooks.c).
struct husk_hook {
	char when; // HUSK_HOOK_CREATE or HUSK_HOOK_START
	unsigned long timeout; // seconds, 0: none
	const char *path;
	const char **argv, **envp; // NULL-terminated
};

struct husk_spec {
	const char *hostname, *cwd, *user, *scratch, *inuse, *image_dir;
	unsigned char *seccomp; // the BPF program, decoded
	size_t seccomp_len;
	// Sized by the number of tokens in the spec, which bounds each; room
	// for a terminating NULL and one more variable (HOME).
	const char **args, **env;
	int nargs, nenv;
	struct husk_op root_ops[HUSK_MAX_ROOT_OPS], *ops;
	int nroot, nops;
	const char *file_path[HUSK_MAX_FILES], *file_content[HUSK_MAX_FILES];
	int nfiles;
	struct husk_net net;
	int has_net, keep_id, no_setgroups, loopback, readonly, no_new_privs, terminal;
	int hold; // run --join: a holding process instead of the command
	int exec; // an exec spec: a process in a running container
	int caps[HUSK_MAX_CAPS];
	int ncaps;
	const char *groups[HUSK_MAX_GROUPS]; // --group-add: names or numbers
	int ngroups;
	struct husk_rlimit rlimits[HUSK_MAX_RLIMITS];
	int nrlimits;
	const char *start_fifo; // OCI create: wait on it for start
	const char *netns;      // a network namespace to join
	const char *sysctl_key[HUSK_MAX_SYSCTLS], *sysctl_value[HUSK_MAX_SYSCTLS];
	int nsysctls;
	const char *hook_state; // the OCI state the hooks read
	struct husk_hook hooks[HUSK_MAX_HOOKS];
	int nhooks;
	const char **hook_strs; // the hooks' argv and envp, carved from one array
	size_t nhook_strs;
};

// husk_spec_decode fills s from buf's len bytes, its strings pointing
// into buf; 0, or -1 with the reason in err. Either way s is released
// with husk_spec_free.
int husk_spec_decode(const char *buf, size_t len, struct husk_spec *s, char *err, size_t errlen);
// husk_exec_spec_decode is husk_spec_decode for an exec spec, which holds
// the process alone; each refuses the other's.
int husk_exec_spec_decode(const char *buf, size_t len, struct husk_spec *s, char *err, size_t errlen);
char *husk_spec_read(int fd, size_t *len, char *err, size_t errlen);
void husk_spec_free(struct husk_spec *s);
const char *husk_op_name(int kind);

// ---- failing: one line to stderr and the host side, then exit ----

__attribute__((noreturn, format(printf, 2, 3))) void husk_fail(int code, const char *fmt, ...);

// ---- paths inside the root (paths.c) ----

// The root being built: every path below resolves inside it.
extern int husk_root_fd;
// Whether the kernel has openat2: -1 not known yet, 0 no (every lookup
// walks), 1 yes. Tests set it to drive either way.
extern int husk_openat2;
int husk_resolve(const char *path, int flags);
// husk_resolve_walk is husk_resolve without openat2; flags: O_DIRECTORY,
// O_NOFOLLOW.
int husk_resolve_walk(const char *path, int flags);
void husk_split(const char *path, char *dir, char *base, size_t n);
void husk_make_dirs(const char *path);
void husk_make_file(const char *path);

// ---- the init's steps (mounts.c, net.c, process.c) ----

// The directory where the root is built, then pivoted into.
extern char husk_root_path[4096];
void husk_make_private(void);
void husk_mount_scratch(const struct husk_spec *s);
void husk_build_root(const struct husk_spec *s);
void husk_write_files(const struct husk_spec *s);
void husk_apply_op(const struct husk_op *o);
void husk_remount_readonly(const char *target, const char *shown);
void husk_pivot(void);
void husk_setup_net(const struct husk_spec *s);
void husk_write_sysctls(const struct husk_spec *s);
// husk_console_early opens the terminal at OCI create (process.c).
void husk_console_early(void);
void husk_watch_binds(const struct husk_spec *s);
void husk_loopback_up(void);
// husk_start_user starts the user's process and waits for its execve; it
// returns the pid, or ends the process with Docker's code for what failed.
pid_t husk_start_user(struct husk_spec *s);
pid_t husk_start_holder(void);
// husk_run_hooks runs s's hooks of one kind (HUSK_HOOK_CREATE ...) in
// order, failing the start with the first that fails.
void husk_run_hooks(const struct husk_spec *s, char when);
// husk_exec_user becomes exec's process in this one, with the same steps
// and codes: it never returns.
__attribute__((noreturn)) void husk_exec_user(struct husk_spec *s);

// ---- users and groups (user.c) ----

struct husk_cred {
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	char *home;
};

// husk_resolve_user resolves user[:group] against passwd and group files
// as moby/sys/user's GetExecUser does: 0, or -1 with the reason in err (a
// name not found) and c released.
int husk_resolve_user(const char *spec_user, const char *passwd, const char *group, struct husk_cred *c, char *err,
		      size_t errlen);
void husk_cred_free(struct husk_cred *c);
// husk_add_group adds group (a name in the group file, or a number) to c's
// supplementary groups: 0, or -1 with the reason in err.
int husk_add_group(const char *group, const char *group_file, struct husk_cred *c, char *err, size_t errlen);

// ---- the reaper's loop and descriptor passing (reaper.c) ----

__attribute__((noreturn)) void husk_reap_loop(pid_t child, int dial);
int husk_send_fd(int sock, const void *buf, size_t len, int fd);
int husk_recv_fd(int sock);
int husk_file_identity(const char *path, char *out, size_t n);

// ---- PID 1's own exposure (lockdown.c, filter.c, landlock.c) ----

// husk_allow is one system call a filter allows: any arguments (arg < 0),
// or only with argument arg's low 32 bits equal to val.
struct husk_allow {
	int nr, arg;
	unsigned long val;
};
extern const struct husk_allow husk_pid1_allow[];
extern const int husk_pid1_nallow;
struct sock_filter;
int husk_filter_build(const struct husk_allow *list, int n, struct sock_filter *f, int max);
void husk_pid1_lockdown(void);
void husk_hide_invocation(void);
void husk_close_except(const int *keep, int n);
int husk_landlock(int may_mount);
int husk_landlock_abi(void);
char *husk_launch_key(int k, size_t *len);

// ---- a prelaunch's launch file (launch.c) ----

// husk_launch is a launch file's records: each points into the file,
// which the parser changes in place (a record's newline becomes a NUL).
struct husk_launch {
	const char *key, *watch, *flags, *mode, *uidmap, *gidmap, *id, *spec, *stdin_, *net, *entry, *dflt, *claim;
	size_t key_len, watch_len, uidmap_len, gidmap_len, spec_len, entry_len, dflt_len, claim_len;
};

// husk_launch_parse fills l from the len bytes at p: 0, or -1 when the
// file is not a whole launch.
int husk_launch_parse(char *p, size_t len, struct husk_launch *l);
// husk_entry_parse is husk_launch_parse for the user namespace's entry
// file: its records are WATCH, FLAGS, MODE, UIDMAP and GIDMAP.
int husk_entry_parse(char *p, size_t len, struct husk_launch *l);

// Shared by the prelaunch and the user namespace's entry (prelaunch.c).
int husk_open_launch_dir(void);
char *husk_read_file(int dfd, const char *name, size_t *len);
int husk_unchanged(const char *watch, size_t len);
int husk_reexecuted(void);
int husk_map(const struct husk_launch *l, pid_t pid, int sync_w);
void husk_abandon(pid_t pid);

// ---- the pre-runtime entries, chosen by entry.c's one constructor ----

__attribute__((noreturn)) void husk_cinit_main(const char *fd);
__attribute__((noreturn)) void husk_cinit_spec(char *buf, size_t len);
__attribute__((noreturn)) void husk_nsenter_main(const char *pid);
void husk_prelaunch_main(int argc, char **argv, char **envp);
int husk_userns_entry(int argc, char **argv);

// husk_entered is the ID-map mode the user namespace's entry entered
// (usernsentry.c), in the child it returned to Go; NULL elsewhere. The
// child reads HUSK_USERNS_MAPPED on husk_entered_sync once it is mapped.
extern const char *husk_entered;
extern int husk_entered_sync;

// husk_pre is what the prelaunch did: pid is the sandbox it started (-1:
// none; it runs mapped), status_fd the sandbox's status pipe, net_fd the
// host's end of its network socket (-1: none), tap_fd its TAP device when
// the init has sent it already (-1: not yet), claim_fd the lease file of
// the user-defined network's address it holds locked (-1: none), file the launch it
// followed, id the container's ID.
struct husk_prelaunch {
	pid_t pid;
	int status_fd, net_fd, tap_fd, claim_fd;
	char id[65];
	const char *file;
	size_t file_len;
};
extern struct husk_prelaunch husk_pre;

#endif
