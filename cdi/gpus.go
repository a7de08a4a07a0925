package cdi

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// GPUKind is the CDI kind `--gpus` stands for, as NVIDIA's nvidia-ctk
// names its devices (nvidia.com/gpu=0, =UUID, =all).
const GPUKind = "nvidia.com/gpu"

// GPUs reads Docker's --gpus (all, N, count=N, device=IDS, with
// capabilities= and driver= accepted) as CDI device names. In a Slurm job
// that bound GPUs (SLURM_STEP_GPUS, else SLURM_JOB_GPUS), all and counts
// mean the job's GPUs, by their host indexes, never the whole node's.
func GPUs(v string) ([]string, error) {
	v = strings.Trim(v, `"'`)
	bad := fmt.Errorf("invalid --gpus %q: give all, a count, or device=IDS such as device=0,1", v)
	if ids, ok := strings.CutPrefix(v, "device="); ok {
		return named(strings.Split(ids, ","), bad)
	}
	count := ""
	for _, p := range strings.Split(v, ",") {
		k, val, kv := strings.Cut(p, "=")
		switch {
		case !kv:
			count = k
		case k == "count":
			count = val
		case k == "capabilities" || (k == "driver" && val == "nvidia"):
		default:
			return nil, bad
		}
	}
	bound := slurmGPUs()
	if count == "all" && bound == nil {
		return []string{GPUKind + "=all"}, nil
	}
	n, err := strconv.Atoi(count)
	if count == "all" {
		n, err = len(bound), nil
	}
	if err != nil || n <= 0 {
		return nil, bad
	}
	ids := bound
	if ids == nil {
		for i := range n {
			ids = append(ids, strconv.Itoa(i))
		}
	}
	if n > len(ids) {
		return nil, fmt.Errorf("--gpus %s: the Slurm job has %d GPUs (%s): ask for fewer or for more in the job", v, len(ids), strings.Join(ids, ","))
	}
	return named(ids[:n], bad)
}

func named(ids []string, bad error) ([]string, error) {
	var out []string
	for _, id := range ids {
		name := GPUKind + "=" + strings.TrimSpace(id)
		if id == "" || !IsName(name) {
			return nil, bad
		}
		out = append(out, name)
	}
	return out, nil
}

// slurmGPUs are the host indexes of the GPUs Slurm bound to this step or
// job (nil outside one, or with none).
func slurmGPUs() []string {
	for _, k := range []string{"SLURM_STEP_GPUS", "SLURM_JOB_GPUS"} {
		if v := os.Getenv(k); v != "" {
			return strings.Split(v, ",")
		}
	}
	return nil
}
