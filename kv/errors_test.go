package kv

import "github.com/cockroachdb/errors"

func asIface(err error, target interface{}) bool { return errors.As(err, target) }
