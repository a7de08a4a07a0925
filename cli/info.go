package cli

// InfoCmd is `husk info`. STUB until the info work lands.
type InfoCmd struct{}

func (c *InfoCmd) Run(g *Globals) error { return errTODO }
