//go:build !(aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || zos)

package main

import "io"

// cliTerminalWidth returns 0 (unknown) where the terminal's size cannot be asked:
// tables are then cut to COLUMNS or the default width.
func cliTerminalWidth(io.Writer) int { return 0 }
