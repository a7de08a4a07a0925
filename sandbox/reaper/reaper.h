// The reaper's loop and descriptor passing, shared by the hand-over
// (reaper.c) and the C init (init.c).
#ifndef HUSK_REAPER_H
#define HUSK_REAPER_H
#include <sys/types.h>

__attribute__((noreturn)) void husk_reap_loop(pid_t child, int dial);
int husk_send_fd(int sock, const void *buf, size_t len, int fd);

#endif
