package executor

/*
#include "executor.h"
*/
import "C"

// LandlockABI is the kernel's Landlock ABI version (landlock.c), 0 where
// it has none: a container's processes then get no domain, and one that
// holds CAP_SYS_PTRACE can trace the container's PID 1.
func LandlockABI() int { return int(C.husk_landlock_abi()) }
