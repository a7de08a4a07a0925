// The one pre-runtime entry point, as runc's nsexec: glibc runs this
// constructor before the Go runtime starts, and the environment says which
// part of husk this process is. Each entry but the prelaunch's and the
// user namespace's never returns to Go.
//
//   HUSK_NSENTER_PID  exec: join that process's namespaces and run the
//                     exec spec's process inside them (nsenter.c)
//   HUSK_CINIT        the sandbox's init from the complete spec the host
//                     side built (init.c)
//   none of them      save, load or push: husk's user namespace entered
//                     as written down (usernsentry.c); a `husk run` that
//                     may start from its written-down launch
//                     (prelaunch.c); otherwise plain Go

#include <stdlib.h>

#include "executor.h"

__attribute__((constructor)) static void husk_entry(int argc, char **argv, char **envp)
{
	const char *v;
	// Set but empty is still exec's: nsenter refuses it rather than run
	// the command on the host.
	if ((v = getenv(HUSK_ENV_NSENTER_PID)) != NULL) {
		husk_nsenter_main(v);
		return;
	}
	if ((v = getenv(HUSK_ENV_CINIT)) != NULL && *v != 0)
		husk_cinit_main(v);
	if (husk_userns_entry(argc, argv))
		return; // the child, mapped, goes on to Go
	husk_prelaunch_main(argc, argv, envp);
}
