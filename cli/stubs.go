package cli

import "errors"

// Placeholders until each verb has its own file.
var errTODO = errors.New("not implemented yet")

type PullCmd struct{}

func (c *PullCmd) Run(g *Globals) error { return errTODO }

type ImagesCmd struct{}

func (c *ImagesCmd) Run(g *Globals) error { return errTODO }

type RmiCmd struct{}

func (c *RmiCmd) Run(g *Globals) error { return errTODO }

type TagCmd struct{}

func (c *TagCmd) Run(g *Globals) error { return errTODO }

type ImageCmd struct{}

func (c *ImageCmd) Run(g *Globals) error { return errTODO }

type LoginCmd struct{}

func (c *LoginCmd) Run(g *Globals) error { return errTODO }

type LogoutCmd struct{}

func (c *LogoutCmd) Run(g *Globals) error { return errTODO }
