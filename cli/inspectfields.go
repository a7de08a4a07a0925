package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"

	"husk/network"
	"husk/sandbox"
	"husk/store/container"
	"husk/userns"
)

// portBinding is one host address of a published port, in Docker's form.
type portBinding struct {
	HostIp   string
	HostPort string
}

// portMap is Docker's map of "80/tcp" to its host bindings.
type portMap map[string][]portBinding

type inspectNetwork struct {
	IPAddress   string
	Gateway     string
	IPPrefixLen int
	MacAddress  string
}

type inspectNetworkSettings struct {
	Ports     portMap
	IPAddress string
	Gateway   string
	Networks  map[string]inspectNetwork
}

// inspectMount is Docker's .Mounts entry: husk's -v binds.
type inspectMount struct {
	Type        string
	Source      string
	Destination string
	Mode        string
	RW          bool
	Propagation string
}

// portMapOf reads ports in -p syntax as Docker's map; Docker shows an
// unbound host address as "" in HostConfig and as 0.0.0.0 once bound.
func portMapOf(specs []string, bound bool) portMap {
	out := portMap{}
	ports, err := network.ParsePorts(specs)
	if err != nil {
		return out
	}
	for _, p := range ports {
		key := strconv.Itoa(p.ContainerPort) + "/" + p.Proto
		b := portBinding{}
		if p.HostIP.IsValid() {
			b.HostIp = p.HostIP.String()
		} else if bound {
			b.HostIp = "0.0.0.0"
		}
		if p.HostPort != 0 {
			b.HostPort = strconv.Itoa(p.HostPort)
			if p.HostPortEnd != 0 {
				b.HostPort += "-" + strconv.Itoa(p.HostPortEnd)
			}
		}
		out[key] = append(out[key], b)
	}
	return out
}

func portSpecs(ports []network.Port) []string {
	var out []string
	for _, p := range ports {
		out = append(out, p.String())
	}
	return out
}

// networkSettings are the addresses of a running container: the guest
// address of its own network (builtin, slirp4netns and pasta alike give
// it husk's subnet), none for --network host and none.
func networkSettings(ct *container.Container) inspectNetworkSettings {
	ns := inspectNetworkSettings{Ports: portMap{}, Networks: map[string]inspectNetwork{}}
	mode := ct.Config.Network.Mode
	if !ct.Live() {
		return ns
	}
	ns.Ports = portMapOf(ct.Bound, true)
	spec, err := ct.Config.NetSpec()
	if err != nil || spec == nil {
		if mode != "" {
			ns.Networks[mode] = inspectNetwork{}
		}
		return ns
	}
	n := inspectNetwork{IPAddress: spec.Config.IP.String(), Gateway: spec.Config.Gateway.String(), IPPrefixLen: spec.Config.Subnet.Bits()}
	ns.IPAddress, ns.Gateway = n.IPAddress, n.Gateway
	ns.Networks[mode] = n
	return ns
}

// mountsOf are the container's binds as Docker lists them (tmpfs mounts
// are not among Docker's .Mounts either).
func mountsOf(cfg *sandbox.Config) []inspectMount {
	out := []inspectMount{}
	for _, m := range cfg.OCI.Mounts {
		if m.Type != "bind" {
			continue
		}
		im := inspectMount{Type: "bind", Source: m.Source, Destination: m.Destination, RW: true, Propagation: "rprivate"}
		if slices.Contains(m.Options, "ro") {
			im.Mode, im.RW = "ro", false
		}
		out = append(out, im)
	}
	return out
}

// mergeEnv is the environment a container's process starts with: the
// image's, with the container's own on top (same name replaced).
func mergeEnv(image, own []string) []string {
	out := slices.Clone(image)
	for _, e := range own {
		k, _, _ := strings.Cut(e, "=")
		i := slices.IndexFunc(out, func(x string) bool { x, _, _ = strings.Cut(x, "="); return x == k })
		if i >= 0 {
			out[i] = e
		} else {
			out = append(out, e)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// imageConfigs are the configs of the images by ID, read in husk's
// namespace in one call (image inspect's own function); an image that
// is gone is left out.
func imageConfigs(g *Globals, ids []string) map[string]inspectConfig {
	out := map[string]inspectConfig{}
	var want []string
	for _, id := range ids {
		if id != "" && !slices.Contains(want, id) {
			want = append(want, id)
		}
	}
	if len(want) == 0 {
		return out
	}
	var buf bytes.Buffer
	args := append([]string{g.StorageDriver, "{{.Id}} {{json .Config}}"}, want...)
	if code, err := userns.CallWith(g.Ctx, &buf, io.Discard, callImageInspect, args...); err != nil || code != 0 {
		// One image gone fails the call: ask for each alone.
		if len(want) > 1 {
			for _, id := range want {
				for k, v := range imageConfigs(g, []string{id}) {
					out[k] = v
				}
			}
		}
		return out
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		id, js, ok := strings.Cut(sc.Text(), " ")
		var cfg inspectConfig
		if ok && json.Unmarshal([]byte(js), &cfg) == nil {
			out[strings.TrimPrefix(id, "sha256:")] = cfg
		}
	}
	return out
}

// containerLabels are the labels Docker shows for a container: the
// image's, with the container's own (-l, --label-file) over them.
func containerLabels(img inspectConfig, own map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range img.Labels {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// imageSizes are the sizes of the store's images by ID (in husk's
// namespace already); empty when the store cannot be read.
func imageSizes(g *Globals) map[string]int64 {
	out := map[string]int64{}
	s, err := openStore(g)
	if err != nil {
		return out
	}
	defer s.Close()
	imgs, err := s.Images()
	if err != nil {
		return out
	}
	for i := range imgs {
		out[imgs[i].ID] = s.Size(&imgs[i])
	}
	return out
}
