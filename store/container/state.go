package container

import "time"

// The changes of a container's state, for Update.

// MarkRunning marks a container running under monitor (a foreground run
// or a detached monitor) with init as its sandbox's pid, and its bound
// ports.
func MarkRunning(monitor, init int, ports []string) func(*State) error {
	return func(st *State) error {
		st.Bound = ports
		restarting := st.Status == Restarting
		st.Status = Running
		st.MonitorPID, st.MonitorStart = monitor, StartTime(monitor)
		st.InitPID, st.InitStart = init, StartTime(init)
		st.StartedAt, st.FinishedAt = time.Now().UTC(), time.Time{}
		st.ExitCode, st.Error = 0, ""
		// A new start clears an earlier stop; one that came while the
		// container restarted stands, and the monitor ends this start.
		if !restarting {
			st.Stopped = false
		}
		st.Paused, st.PausedBy = false, ""
		return nil
	}
}

// MarkExited records the end of a start: its code, and the error when
// the process never ran.
func MarkExited(code int, msg string) func(*State) error {
	return func(st *State) error {
		st.Status = Exited
		st.ExitCode, st.Error = code, msg
		st.FinishedAt = time.Now().UTC()
		st.InitPID, st.InitStart, st.Bound = 0, 0, nil
		st.Paused, st.PausedBy = false, ""
		return nil
	}
}

// MarkStopped records that a user stopped the container: its restart
// policy starts it no more.
func MarkStopped(st *State) error {
	st.Stopped = true
	return nil
}
