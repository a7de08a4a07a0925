package start

// InitArgs are the arguments of container id's init, the C executor
// running the spec HostSpec built: they name the container alone, so that
// its argv (which every local user, and the container itself at
// /proc/1/cmdline, can read) holds nothing of the container's flags.
func InitArgs(id string) []string {
	return []string{"container-init", id}
}
