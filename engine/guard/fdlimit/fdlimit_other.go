//go:build !linux

package fdlimit

import "errors"

var errUnsupported = errors.New("fdlimit: not supported on this system")

// Raise does nothing outside Linux.
func Raise() (uint64, error) { return 0, errUnsupported }

func limits() (soft, hard uint64, err error) { return 0, 0, errUnsupported }
