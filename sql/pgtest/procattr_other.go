//go:build !linux

package pgtest

import "syscall"

// procAttr: outside Linux a server outlives a test binary that dies
// without running its cleanups.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
