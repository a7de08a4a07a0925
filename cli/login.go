package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"husk/pull"
)

// LoginCmd is `husk login`.
type LoginCmd struct {
	Username      string `short:"u" help:"User name."`
	Password      string `short:"p" help:"Password (visible to other users in ps: prefer --password-stdin)."`
	PasswordStdin bool   `name:"password-stdin" help:"Read the password from standard input."`
	TLSVerify     bool   `name:"tls-verify" default:"true" negatable:"" help:"Verify the registry's TLS certificate."`
	Registry      string `arg:"" help:"Registry host[:port], e.g. docker.io or 127.0.0.1:5000."`
}

func (c *LoginCmd) Run(g *Globals) error {
	reg, err := pull.ParseRegistry(c.Registry, c.TLSVerify)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	user, pass, err := c.credentials(g)
	if err != nil {
		return fmt.Errorf("login %s: %w", c.Registry, err)
	}
	if err := pull.CheckLogin(g.Ctx, reg, user, pass, c.TLSVerify); err != nil {
		return fmt.Errorf("login %s: %w", c.Registry, err)
	}
	if err := pull.SaveLogin(c.Registry, user, pass); err != nil {
		return fmt.Errorf("login %s: %w", c.Registry, err)
	}
	fmt.Fprintln(g.Stdout, "Login Succeeded")
	return nil
}

// maxSecret bounds a password read from standard input: registry tokens
// run to a few KiB, and </dev/zero must not fill husk's memory.
const maxSecret = 64 << 10

// credentials takes them from the flags, standard input, or the terminal.
func (c *LoginCmd) credentials(g *Globals) (user, pass string, err error) {
	if c.PasswordStdin && c.Password != "" {
		return "", "", fmt.Errorf("both --password and --password-stdin given: use one")
	}
	in := bufio.NewReader(os.Stdin)
	user, pass = c.Username, c.Password
	if user == "" {
		if c.PasswordStdin || !isTerminal(os.Stdin) {
			return "", "", fmt.Errorf("no user name: pass -u USER")
		}
		fmt.Fprint(g.Stderr, "Username: ")
		user, _ = in.ReadString('\n')
		user = strings.TrimSpace(user)
	}
	switch {
	case c.PasswordStdin:
		b, err := io.ReadAll(io.LimitReader(in, maxSecret+1))
		if err != nil {
			return "", "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		if len(b) > maxSecret {
			return "", "", fmt.Errorf("reading the password from standard input: more than %d KiB: pipe in the password or token alone", maxSecret>>10)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	case pass == "" && isTerminal(os.Stdin):
		fmt.Fprint(g.Stderr, "Password: ")
		pass, err = readHidden(in)
		fmt.Fprintln(g.Stderr)
		if err != nil {
			return "", "", err
		}
	}
	if user == "" || pass == "" {
		return "", "", fmt.Errorf("user name or password is empty: pass -u USER and -p PASS or --password-stdin")
	}
	return user, pass, nil
}

// readHidden reads one line from the terminal with echo off.
func readHidden(in *bufio.Reader) (string, error) {
	fd := int(os.Stdin.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	line, err := in.ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// LogoutCmd is `husk logout`.
type LogoutCmd struct {
	All      bool   `help:"Remove the credentials of every registry."`
	Registry string `arg:"" optional:"" help:"Registry host[:port]."`
}

func (c *LogoutCmd) Run(g *Globals) error {
	if !c.All && c.Registry == "" {
		return fmt.Errorf("logout: no registry given: name one (husk logout HOST) or pass --all")
	}
	reg := c.Registry
	if c.All {
		reg = ""
	}
	found, err := pull.RemoveLogin(reg)
	if err != nil {
		return fmt.Errorf("logout %s: %w", c.Registry, err)
	}
	switch {
	case c.All:
		fmt.Fprintln(g.Stdout, "Removed login credentials for all registries")
	case !found:
		return fmt.Errorf("logout %s: not logged in to %s (credentials are in %s)", c.Registry, c.Registry, pull.AuthFile())
	default:
		fmt.Fprintln(g.Stdout, "Removed login credentials for "+c.Registry)
	}
	return nil
}
