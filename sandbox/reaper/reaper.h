// The reaper's loop and descriptor passing, shared by the hand-over
// (reaper.c) and the C init (init.c); the prelaunch's results (prelaunch.c)
// for the Go side.
#ifndef HUSK_REAPER_H
#define HUSK_REAPER_H
#include <stddef.h>
#include <sys/types.h>

__attribute__((noreturn)) void husk_reap_loop(pid_t child, int dial);
int husk_send_fd(int sock, const void *buf, size_t len, int fd);
int husk_recv_fd(int sock);
__attribute__((noreturn)) void husk_cinit_main(void);
__attribute__((noreturn)) void husk_cinit_spec(char *buf, size_t len);
int husk_file_identity(const char *path, char *out, size_t n);
char *husk_launch_key(int k, size_t *len);

// husk_pre is what the prelaunch constructor did: pid is the sandbox it
// started (-1: none; it runs mapped), status_fd the sandbox's status pipe,
// net_fd the host's end of its network socket (-1: none), tap_fd its TAP
// device when the init has sent it already (-1: not yet), file the launch
// it followed, id the container's ID.
struct husk_prelaunch {
	pid_t pid;
	int status_fd, net_fd, tap_fd;
	char id[65];
	const char *file;
	size_t file_len;
};
extern struct husk_prelaunch husk_pre;

#endif
