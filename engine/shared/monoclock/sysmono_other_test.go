//go:build !linux

package monoclock

func sysMonoNow() int64 { return Now() }
