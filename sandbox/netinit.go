package sandbox

import (
	"husk/network"
	"husk/sandbox/abi"
)

// NetSpec is a sandbox's network beyond lo (network.Spec).
type NetSpec = network.Spec

// envNet names the descriptor of the init's end of the network socket:
// the TAP device goes out on it, dial requests for published ports come in.
const envNet = abi.EnvSandboxNet
