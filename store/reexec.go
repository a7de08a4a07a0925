package store

import "go.podman.io/storage/pkg/reexec"

// containers/storage unpacks layers in a re-executed copy of the binary
// (argv[0] "storage-untar" and kin) chrooted into the layer, so that no
// symlink in the layer can point the writes elsewhere. Those children must
// run the unpacker, not husk's command line: dispatch them before main.
// (This belongs with main.go's other internal entry points; it lives here
// so that every binary that opens a store, tests included, has it.)
func init() {
	if reexec.Init() {
		panic("unreachable: a containers/storage child returned")
	}
}
