package sandbox

// VolumeRef is one volume a container mounts (-v NAME:/path, -v /path,
// --mount type=volume, --volumes-from), resolved at create: its mount is
// in OCI.Mounts as well, a bind of the volume's directory.
type VolumeRef struct {
	Name        string `json:"name"`
	Destination string `json:"destination"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	// Anonymous volumes go with the container (rm -v, --rm).
	Anonymous bool `json:"anonymous,omitempty"`
	// NoCopy is volume-nocopy: the image's content is not copied in.
	NoCopy bool `json:"noCopy,omitempty"`
}
