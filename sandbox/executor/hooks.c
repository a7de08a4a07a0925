// CDI devices' OCI hooks, run by the init as the sandbox's root before the
// user's process: createContainer hooks once the mounts are done and before
// the pivot, in the root being built (as runc runs them), startContainer
// hooks after the pivot. Each reads the container's OCI state on stdin; a
// bundle directory (the scratch tmpfs) holds a config.json naming the root,
// which hooks such as nvidia-ctk's read to find it.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "executor.h"

static const char *hook_name(char when)
{
	return when == HUSK_HOOK_CREATE ? "createContainer" : "startContainer";
}

// write_bundle writes the bundle's config.json, the root relative to it.
static void write_bundle(const struct husk_spec *s)
{
	char path[4096 + 16];
	snprintf(path, sizeof path, "%s/config.json", s->scratch);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dprintf(fd, "{\"ociVersion\":\"1.2.1\",\"root\":{\"path\":\"root\"}}\n") < 0)
		husk_fail(125, "writing the hooks' bundle %s: %s", path, strerror(errno));
	close(fd);
}

__attribute__((noreturn)) static void exec_hook(const struct husk_hook *h, int in, const char *dir)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, 0) < 0 || chdir(dir) != 0)
		_exit(127);
	// Nothing of the init's (its status pipe, the network's socket) reaches
	// the hook.
	syscall(SYS_close_range, 3, ~0U, 0);
	execve(h->path, (char *const *)h->argv, (char *const *)h->envp);
	dprintf(2, "husk: running the CDI %s hook %s: %s: fix the path in the device's CDI spec\n", hook_name(h->when),
		h->path, strerror(errno));
	_exit(127);
}

// wait_hook waits for pid up to timeout seconds (0: no limit), killing it
// then; its wait status, or -1 after the kill.
static int wait_hook(pid_t pid, unsigned long timeout)
{
	struct timespec tick = {0, 5 * 1000 * 1000};
	for (unsigned long n = 0;; n++) {
		int st;
		pid_t r = waitpid(pid, &st, timeout ? WNOHANG : 0);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return 0;
		if (timeout && n >= timeout * 200) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		if (r == 0)
			nanosleep(&tick, NULL);
	}
}

static void run_hook(const struct husk_spec *s, const struct husk_hook *h)
{
	int in[2];
	if (pipe2(in, O_CLOEXEC) != 0)
		husk_fail(125, "running the CDI hook %s: %s", h->path, strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		husk_fail(125, "running the CDI hook %s: %s", h->path, strerror(errno));
	if (pid == 0)
		exec_hook(h, in[0], h->when == HUSK_HOOK_CREATE ? husk_root_path : "/");
	close(in[0]);
	// A hook that does not read its state is no failure: SIGPIPE is
	// blocked in the init, so the write only fails.
	if (write(in[1], s->hook_state, strlen(s->hook_state)) < 0 && errno != EPIPE)
		husk_fail(125, "running the CDI hook %s: writing its state: %s", h->path, strerror(errno));
	close(in[1]);
	int st = wait_hook(pid, h->timeout);
	if (st < 0)
		husk_fail(125, "the CDI %s hook %s ran past its timeout of %lus: fix it or raise the timeout in the device's CDI spec",
			  hook_name(h->when), h->path, h->timeout);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		husk_fail(125, "the CDI %s hook %s failed (%s %d): fix it or its device's CDI spec", hook_name(h->when),
			  h->path, WIFEXITED(st) ? "exit status" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

void husk_run_hooks(const struct husk_spec *s, char when)
{
	int any = 0;
	for (int i = 0; i < s->nhooks; i++) {
		if (s->hooks[i].when != when)
			continue;
		if (!any++ && when == HUSK_HOOK_CREATE)
			write_bundle(s);
		run_hook(s, &s->hooks[i]);
	}
}
