package main

import (
	"fmt"
	"io"
)

// calibrateCmd is being written (issue 4); see engine/calibrate.
func calibrateCmd(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "llmload calibrate: not built yet")
	return exitConfig
}
