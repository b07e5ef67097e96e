package lambdamode

import "syscall"

// procAttr puts an execution environment in its own process group (so
// closing it ends the emulator and the bootstrap together) and has the
// kernel kill the emulator if this process dies first; the bootstrap
// then exits on its own, its Runtime API gone.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
