//go:build !linux

package lambdamode

import "syscall"

// procAttr puts an execution environment in its own process group. (The
// emulator runs only on Linux; elsewhere starting it fails anyway.)
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
