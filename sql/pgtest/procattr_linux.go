package pgtest

import "syscall"

// procAttr makes the kernel kill the server when the test binary dies
// without running its cleanups (a test timeout, a signal).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
