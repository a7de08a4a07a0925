package sandbox

// SlurmStep is the Slurm job step a container was created in, as Slurm's
// variables named it at create. Its presence in a config means the
// step's defaults applied (the wire-up variables, the PMIx directory, the
// host's network, --rm): see cli/slurm.go.
type SlurmStep struct {
	JobID  string `json:"jobID"`
	StepID string `json:"stepID"`
	ProcID string `json:"procID,omitempty"` // the task's rank in the step
}
