package kv

import (
	"os"
	"syscall"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrStoreInUse marks the error of Open on a store directory that another
// process (or another Engine of this process) holds open: Pebble's lock
// file is locked. Callers test it with errors.Is.
var ErrStoreInUse = errors.New("kv: store in use")

// storeLockFile is the name of Pebble's lock file in a store directory.
const storeLockFile = "LOCK"

// lockStore takes Pebble's directory lock before Open, so that a store held
// by someone else fails with ErrStoreInUse naming the store and the lock
// file, rather than with the bare errno of the failed fcntl (EAGAIN:
// "resource temporarily unavailable"). The lock is passed to pebble.Open
// (Options.Lock) and released by the caller after the DB is closed.
func lockStore(fs vfs.FS, dir string) (*pebble.Lock, error) {
	if err := fs.MkdirAll(dir, 0755); err != nil {
		return nil, errors.Wrapf(err, "kv: creating store directory %s", dir)
	}
	lock, err := pebble.LockDirectory(dir, fs)
	if err == nil {
		return lock, nil
	}
	lockPath := fs.PathJoin(dir, storeLockFile)
	// Creating or opening the lock file failed (permissions, a read-only
	// file system): not a conflict.
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return nil, errors.Wrapf(err, "kv: locking store %s", dir)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && (errno == syscall.EAGAIN || errno == syscall.EACCES) {
		// fcntl(F_SETLK) refuses a lock another process holds with EAGAIN
		// or EACCES (POSIX allows either).
		if pid := lockHolder(lockPath); pid > 0 {
			return nil, errors.Mark(errors.Newf("store %s is in use by another vcdb process (lock file %s, held by pid %d)",
				dir, lockPath, pid), ErrStoreInUse)
		}
		return nil, errors.Mark(errors.Newf("store %s is in use by another vcdb process (lock file %s)",
			dir, lockPath), ErrStoreInUse)
	}
	// Pebble refuses, without a system call, a lock this process already
	// holds (file locks are per process, so the kernel would grant it).
	return nil, errors.Mark(errors.Wrapf(err, "store %s is already open in this process (lock file %s)",
		dir, lockPath), ErrStoreInUse)
}

// lockHolder returns the process id holding a write lock on path (fcntl
// F_GETLK), or 0 when it cannot tell.
func lockHolder(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil || lk.Type == syscall.F_UNLCK {
		return 0
	}
	return int(lk.Pid)
}
