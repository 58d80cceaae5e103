//go:build !linux

package jitter

func sysMonoNow() int64 { return MonoNow() }
