//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// cliLockConfig takes the config file's lock, config.lock beside it (path + ".lock"),
// exclusively, waiting for another gatehouse process that holds it: two CLI processes
// that renew one profile's token at once must not both spend its refresh token, which
// the server would take for a stolen one and end the session. The holder's work is one
// bounded token request. It returns the function that releases the lock.
func cliLockConfig(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("lock config file: %w", err)
	}
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock config file: %w", err)
	}
	for range 100 { // EINTR only: a signal arrived while it waited
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock config file: %w", err)
	}
	return func() { _ = f.Close() }, nil
}
