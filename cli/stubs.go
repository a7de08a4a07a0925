package cli

import "errors"

// errTODO is for verbs whose work has not landed yet (info until then).
var errTODO = errors.New("not implemented yet")
