//go:build aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || zos

package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// cliTerminalWidth returns the width of the terminal w is, or 0 when w is not one.
func cliTerminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
