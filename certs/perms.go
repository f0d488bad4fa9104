package certs

import (
	"fmt"
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

// ErrKeyPermissions marks CheckKeyPermissions' refusals (errors.Is), so that
// callers keep the error's own hint (chmod or chown the key) instead of
// suggesting to create certificates that already exist.
var ErrKeyPermissions = errors.New("certs: key file permissions")

// CheckKeyPermissions returns an error when the key file at path is readable
// by others than allowed, or owned by a user that is neither the current one
// nor root. libpq applies the same rule to client keys. The error is marked
// ErrKeyPermissions and carries a hint with the command that fixes it.
func CheckKeyPermissions(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return errors.Wrap(err, "checking key permissions")
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.Newf("cannot read the owner of %s", path)
	}
	owner, current := int(st.Uid), os.Getuid()
	if err := checkKeyMode(fi.Mode().Perm(), owner, current); err != nil {
		hint := fmt.Sprintf("Make the key readable by its owner only: chmod 600 %s", path)
		if owner != current && owner != 0 {
			hint = fmt.Sprintf("Give the key to the user running vcdb (uid %d): chown %d %s, then chmod 600 %s",
				current, current, path, path)
		}
		return errors.WithHint(errors.Mark(errors.Wrapf(err, "key file %s", path), ErrKeyPermissions), hint)
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
