package sandbox

import "husk/sandbox/abi"

// envNet names the descriptor of the init's end of the network socket:
// the TAP device goes out on it, dial requests for published ports come in.
const envNet = abi.EnvSandboxNet
