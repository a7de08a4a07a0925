package network

import "testing"

// A -p spec is the user's input: refused, or ports in range.
func FuzzParsePorts(f *testing.F) {
	for _, s := range []string{"8080:80", "127.0.0.1:8080:80/udp", "80", "8000-8010:80-90", "[::1]:80:80", ":80", "0:0", "65536:1", "1-0:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ports, err := ParsePorts([]string{s})
		if err != nil {
			return
		}
		for _, p := range ports {
			if p.ContainerPort < 1 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 || p.HostPortEnd > 65535 {
				t.Fatalf("%q gave port %+v", s, p)
			}
		}
	})
}
