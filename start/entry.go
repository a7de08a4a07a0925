package start

import (
	"bytes"

	"husk/sandbox/executor"
	"husk/store"
	"husk/userns"
)

// RecordEntry writes down the way into husk's user namespace that
// userns.Enter just took, for the pre-runtime entry (the executor's
// usernsentry.c) of the next save, load or push: they then run in the
// namespace with one Go runtime, not two. The entry names each file its
// mapping was read from (mappingFiles), with its identity: one changed,
// and the entry is void until the usual path writes it again. Best
// effort: without it, those commands take the usual path.
func RecordEntry(mapping *userns.Mapping) {
	root, _, _, err := store.Paths()
	if err != nil || mapping.Mode == userns.ModeKeepID {
		return
	}
	e := &executor.Entry{Watch: identities(mappingFiles(mapping)), Mapping: mapping}
	_ = e.Write(root)
}

// mappingFiles are the files a user's mapping is made from (userns.Detect):
// husk itself, the user and group databases, the ID ranges, the helpers
// that write them.
func mappingFiles(mapping *userns.Mapping) []string {
	return []string{"/proc/self/exe", "/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid",
		"/etc/nsswitch.conf", mapping.NewUIDMap, mapping.NewGIDMap}
}

// identities is a watch list: each file's path and identity, NUL-ended.
func identities(files []string) []byte {
	var b bytes.Buffer
	for _, f := range files {
		if f != "" {
			b.WriteString(f + "\x00" + executor.FileIdentity(f) + "\x00")
		}
	}
	return b.Bytes()
}
