package cli

import (
	"errors"
	"fmt"
	"net/netip"

	"husk/monitor"
	"husk/store/container"
	"husk/store/usernet"
)

// NetworkCmd is `husk network`: user-defined networks (store/usernet;
// their switch is network.Switch's).
type NetworkCmd struct {
	Create     NetworkCreateCmd     `cmd:"" help:"Create a network."`
	Ls         NetworkLsCmd         `cmd:"" aliases:"list" help:"List networks."`
	Inspect    NetworkInspectCmd    `cmd:"" help:"Show networks in JSON."`
	Rm         NetworkRmCmd         `cmd:"" aliases:"remove" help:"Remove networks no container joins."`
	Prune      NetworkPruneCmd      `cmd:"" help:"Remove every network no container joins."`
	Connect    NetworkConnectCmd    `cmd:"" help:"Connect a container to a network."`
	Disconnect NetworkDisconnectCmd `cmd:"" help:"Disconnect a container from a network."`
}

// NetworkCreateCmd is `husk network create`.
type NetworkCreateCmd struct {
	Subnet   string   `help:"IPv4 subnet, /24 or larger (default: the next free 10.89.N.0/24)." placeholder:"CIDR"`
	Gateway  string   `help:"The gateway's address in the subnet (default: its first)." placeholder:"IPV4"`
	Internal bool     `help:"No way out: the containers reach each other only."`
	Label    []string `help:"Set a label: KEY=VALUE." placeholder:"KEY=VALUE"`
	Opt      []string `short:"o" help:"Option: allow_host_loopback=true lets host.husk.internal reach the host's loopback." placeholder:"KEY=VALUE"`
	Driver   string   `short:"d" default:"bridge" help:"Driver: bridge only (switched inside husk)."`
	Name     string   `arg:"" help:"Name."`
}

func (c *NetworkCreateCmd) Run(g *Globals) error {
	if c.Driver != "bridge" {
		return fmt.Errorf("network driver %q: husk has the bridge driver only: drop -d", c.Driver)
	}
	sp := usernet.Spec{Name: c.Name, Internal: c.Internal}
	var err error
	if c.Subnet != "" {
		if sp.Subnet, err = netip.ParsePrefix(c.Subnet); err != nil {
			return fmt.Errorf("--subnet %q: give an IPv4 subnet such as 10.90.0.0/24", c.Subnet)
		}
	}
	if c.Gateway != "" {
		if sp.Gateway, err = netip.ParseAddr(c.Gateway); err != nil {
			return fmt.Errorf("--gateway %q: give an IPv4 address inside the subnet", c.Gateway)
		}
	}
	if sp.Labels, err = keyValues("--label", c.Label); err != nil {
		return err
	}
	if sp.Options, err = keyValues("--opt", c.Opt); err != nil {
		return err
	}
	ns, err := usernet.Open()
	if err != nil {
		return err
	}
	n, err := ns.Create(sp)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.Stdout, n.ID)
	return nil
}

// NetworkLsCmd is `husk network ls`.
type NetworkLsCmd struct {
	Quiet   bool   `short:"q" help:"Only print network IDs."`
	NoTrunc bool   `help:"Do not truncate IDs."`
	Format  string `help:"Go template per network, 'table TEMPLATE', or json."`
}

// networkRow has Docker's field names, for --format.
type networkRow struct {
	ID       string `header:"NETWORK ID"`
	Name     string
	Driver   string
	Scope    string
	Subnet   string
	Internal bool
	Labels   string
}

func (c *NetworkLsCmd) Run(g *Globals) error {
	ns, err := usernet.Open()
	if err != nil {
		return err
	}
	all, err := ns.List()
	if err != nil {
		return err
	}
	var rows []networkRow
	for _, n := range all {
		id := n.ID
		if !c.NoTrunc {
			id = id[:12]
		}
		rows = append(rows, networkRow{ID: id, Name: n.Name, Driver: n.Driver, Scope: n.Scope, Subnet: n.Subnet.String(), Internal: n.Internal, Labels: labelText(n.Labels)})
	}
	return printRows(g.Stdout, c.Quiet, c.Format, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Subnet}}", rows, func(r networkRow) string { return r.ID })
}

// NetworkInspectCmd is `husk network inspect`.
type NetworkInspectCmd struct {
	Format   string   `short:"f" help:"Go template per network."`
	Networks []string `arg:"" name:"network" help:"Network names or IDs."`
}

// inspectedNetwork is a network with its containers, as Docker shows it.
type inspectedNetwork struct {
	*usernet.Network
	IPAM       map[string]any
	Containers map[string]networkEndpoint
}

type networkEndpoint struct {
	Name        string
	IPv4Address string
}

func (c *NetworkInspectCmd) Run(g *Globals) error {
	ns, err := usernet.Open()
	if err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	cts, err := cs.List()
	if err != nil {
		return err
	}
	out := []inspectedNetwork{}
	var errs []error
	for _, ref := range c.Networks {
		n, err := ns.Get(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		in := inspectedNetwork{Network: n, Containers: map[string]networkEndpoint{},
			IPAM: map[string]any{"Driver": "default", "Config": []map[string]string{{"Subnet": n.Subnet.String(), "Gateway": n.Gateway.String()}}}}
		for _, ct := range cts {
			for _, a := range ct.Config.Network.Networks {
				if a.ID == n.ID {
					in.Containers[ct.ID] = networkEndpoint{Name: ct.Name, IPv4Address: netip.PrefixFrom(a.IP, n.Subnet.Bits()).String()}
				}
			}
		}
		out = append(out, in)
	}
	if err := printInspect(g.Stdout, c.Format, out); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// NetworkRmCmd is `husk network rm`.
type NetworkRmCmd struct {
	Force    bool     `short:"f" help:"Ignore networks that do not exist."`
	Networks []string `arg:"" name:"network" help:"Network names or IDs."`
}

func (c *NetworkRmCmd) Run(g *Globals) error {
	ns, users, err := openNetworks()
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range c.Networks {
		n, err := ns.Get(ref)
		if errors.Is(err, usernet.ErrNoSuchNetwork) && c.Force {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if u := users[n.Name]; len(u) > 0 {
			errs = append(errs, fmt.Errorf("network %s is in use by container %s: remove the container or disconnect it first (husk network disconnect %s %s)", n.Name, u[0], n.Name, u[0]))
			continue
		}
		if err := ns.Remove(n.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.Stdout, ref)
	}
	return errors.Join(errs...)
}

// NetworkPruneCmd is `husk network prune`.
type NetworkPruneCmd struct {
	Force bool `short:"f" help:"Do not ask (husk never asks: accepted for Docker's scripts)."`
}

func (c *NetworkPruneCmd) Run(g *Globals) error {
	ns, users, err := openNetworks()
	if err != nil {
		return err
	}
	all, err := ns.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range all {
		if len(users[n.Name]) > 0 {
			continue
		}
		if err := ns.Remove(n.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.Stdout, n.Name)
	}
	return errors.Join(errs...)
}

// openNetworks is the networks and which containers join each.
func openNetworks() (*usernet.Store, map[string][]string, error) {
	ns, err := usernet.Open()
	if err != nil {
		return nil, nil, err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, nil, err
	}
	users, err := cs.NetworkUsers()
	return ns, users, err
}

// NetworkConnectCmd is `husk network connect`.
type NetworkConnectCmd struct {
	IP        string   `name:"ip" help:"Address on the network (default: the next free one)." placeholder:"IPV4"`
	Alias     []string `help:"Another name the network's DNS gives the container." placeholder:"NAME"`
	Network   string   `arg:"" help:"Network name or ID."`
	Container string   `arg:"" help:"Container name or ID."`
}

func (c *NetworkConnectCmd) Run(g *Globals) error {
	a, err := attachment(c.Network, c.IP, c.Alias)
	if err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	ct, err := cs.Find(c.Container)
	if err != nil {
		return err
	}
	if _, err = cs.Connect(ct.ID, a); err != nil || !ct.Live() {
		return err // a stopped container joins at its next start
	}
	if err := monitor.AttachNetwork(ct, a.Network); err != nil {
		_, _ = cs.Disconnect(ct.ID, a.Network)
		return err
	}
	return nil
}

// NetworkDisconnectCmd is `husk network disconnect`.
type NetworkDisconnectCmd struct {
	Force     bool   `short:"f" help:"Accepted for Docker's scripts."`
	Network   string `arg:"" help:"Network name or ID."`
	Container string `arg:"" help:"Container name or ID."`
}

func (c *NetworkDisconnectCmd) Run(g *Globals) error {
	ns, err := usernet.Open()
	if err != nil {
		return err
	}
	n, err := ns.Get(c.Network)
	if err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	ct, err := cs.Find(c.Container)
	if err != nil {
		return err
	}
	if ct.Live() {
		if err := monitor.DetachNetwork(ct, n.Name); err != nil {
			return err
		}
	}
	_, err = cs.Disconnect(ct.ID, n.Name)
	return err
}
