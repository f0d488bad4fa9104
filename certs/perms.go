package certs

import (
	"os"
	"syscall"

	"github.com/cockroachdb/errors"
)

// Permission limits for private key files (contract §1, fact sheet §2.3): a key
// owned by the process's user may carry owner bits only (0600, 0400, 0700); a
// key owned by root may also be readable by its group (0640, 0740), so that a
// root-managed key can be shared with the server's group. Nobody else may read
// a key, and no group may write one.
const (
	maxOwnerKeyPerm os.FileMode = 0o700
	maxRootKeyPerm  os.FileMode = 0o740
)

// CheckKeyPermissions returns an error when the key file at path is readable
// by others than allowed, or owned by a user that is neither the current one
// nor root. libpq applies the same rule to client keys.
func CheckKeyPermissions(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return errors.Wrap(err, "checking key permissions")
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.Newf("cannot read the owner of %s", path)
	}
	if err := checkKeyMode(fi.Mode().Perm(), int(st.Uid), os.Getuid()); err != nil {
		return errors.Wrapf(err, "key file %s", path)
	}
	return nil
}

// checkKeyMode is the pure rule behind CheckKeyPermissions.
func checkKeyMode(perm os.FileMode, ownerUID, currentUID int) error {
	switch {
	case ownerUID == currentUID && perm&^maxOwnerKeyPerm == 0:
		return nil
	case ownerUID == 0 && perm&^maxRootKeyPerm == 0:
		return nil
	case ownerUID != currentUID && ownerUID != 0:
		return errors.Newf("is owned by uid %d, not by the current user (uid %d) or root", ownerUID, currentUID)
	default:
		return errors.Newf("has permissions %#o; a key must be 0600 (or 0700, 0400), or 0640 (or 0740) when owned by root", perm)
	}
}
