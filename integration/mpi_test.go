package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// mpiHello is the MPI program of the MPI image: each rank prints its rank
// and size, the sum of 100+rank over all ranks (MPI_Allreduce), and the rank
// its partner sent it (MPI_Sendrecv), which only ranks that talked know.
const mpiHello = `#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int rank, size, sum = 0, peer = -1;
	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	int mine = 100 + rank;
	MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
	if (size == 2)
		MPI_Sendrecv(&rank, 1, MPI_INT, 1 - rank, 7, &peer, 1, MPI_INT, 1 - rank, 7,
			MPI_COMM_WORLD, MPI_STATUS_IGNORE);
	printf("rank %d of %d: sum %d, peer %d\n", rank, size, sum, peer);
	MPI_Finalize();
	return 0;
}
`

var mpiImage struct {
	once sync.Once
	err  error
}

// mpiEnv is a Slurm env with the MPI image pulled: the harness compiles
// mpiHello with the host's mpicc and pushes MPIImage once per suite.
func mpiEnv(t *testing.T) (*env, string) {
	t.Helper()
	if _, err := exec.LookPath("mpicc"); err != nil {
		skipOrFail(t, "no mpicc: run integration/prepare.sh as root (it installs openmpi-bin and libopenmpi-dev)")
	}
	e, _ := slurmEnv(t)
	mpiImage.once.Do(func() {
		dir, err := os.MkdirTemp("", "husk-mpi-")
		if err != nil {
			mpiImage.err = err
			return
		}
		defer os.RemoveAll(dir)
		src := filepath.Join(dir, "mpi_hello.c")
		if mpiImage.err = os.WriteFile(src, []byte(mpiHello), 0o644); mpiImage.err != nil {
			return
		}
		bin := filepath.Join(dir, "mpi_hello")
		if out, err := exec.Command("mpicc", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
			mpiImage.err = fmt.Errorf("mpicc: %v: %s", err, out)
			return
		}
		img, err := MPIImage(images.Busybox, bin)
		if err != nil {
			mpiImage.err = err
			return
		}
		mpiImage.err = plain.Push("mpi:latest", img)
	})
	if mpiImage.err != nil {
		t.Fatalf("building the MPI image: %v", mpiImage.err)
	}
	ref := plain.Ref("mpi:latest")
	e.pull(ref)
	return e, ref
}

// srun --mpi=pmix -n 2 husk run IMAGE mpi_hello: the ranks find each other
// through the step's PMIx server (its directory and munged's socket bound
// in, the host's network) and talk. With --join step, the node's ranks
// share one container and Open MPI's shared-memory transport (vader, with
// cross-memory attach) works between them. In separate containers it
// cannot: Open MPI sees the other user namespace and gives up on
// cross-memory attach, and its shared-memory segment in one container's
// /dev/shm is not the other's, so the ranks crash; over TCP on the host's
// network (OMPI_MCA_btl=self,tcp) separate containers talk.
func TestSlurmMPIHello(t *testing.T) {
	e, ref := mpiEnv(t)
	want := []string{"rank 0 of 2: sum 201, peer 1", "rank 1 of 2: sum 201, peer 0"}
	mpi := func(flags ...string) result {
		args := append(append([]string{"--mpi=pmix", "-n2", "husk", "run", "--rm"}, flags...), ref, "mpi_hello")
		r := e.srun(nil, args...)
		e.wantNoContainers()
		return r
	}
	for _, c := range []struct {
		name  string
		flags []string
	}{
		// vader alone: the ranks must talk through shared memory.
		{"join", []string{"--join", "step", "-e", "OMPI_MCA_btl=self,vader"}},
		{"separate over tcp", []string{"-e", "OMPI_MCA_btl=self,tcp"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := mpi(c.flags...)
			got := lines(r.stdout)
			slices.Sort(got)
			if r.code != 0 || !slices.Equal(got, want) || strings.Contains(r.stderr, "different user namespaces") {
				t.Errorf("want lines %q and no word of another user namespace: %s", want, r)
			}
		})
	}
	t.Run("separate over shared memory", func(t *testing.T) {
		r := mpi()
		if r.code == 0 || !strings.Contains(r.stderr, "not available due to different user namespaces") {
			t.Errorf("want the ranks to fail, Open MPI naming the other user namespace: %s", r)
		}
	})
}
