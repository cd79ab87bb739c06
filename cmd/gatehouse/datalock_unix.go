//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFileName is the file in the data folder that the server holds shared while it
// runs and that `gatehouse admin recover` holds exclusively while it writes.
const lockFileName = "gatehouse.lock"

// errDataDirBusy reports that the other side holds the data folder's lock.
var errDataDirBusy = errors.New("the data folder is in use")

// lockDataDir takes the data folder's lock without waiting: shared for a server (several
// may share a store), exclusive for an offline tool. It returns errDataDirBusy (wrapped)
// when the other kind of holder has it, and a function that releases it.
func lockDataDir(dir string, exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data folder: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for range 100 { // EINTR only: a signal arrived while it tried
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if exclusive {
				return nil, fmt.Errorf("%w: a gatehouse server (or another admin command) is using %s; stop the server first", errDataDirBusy, dir)
			}
			return nil, fmt.Errorf("%w: gatehouse admin recover is writing to %s; start the server when it has finished", errDataDirBusy, dir)
		}
		return nil, fmt.Errorf("lock data folder: %w", err)
	}
	return func() { _ = f.Close() }, nil
}
