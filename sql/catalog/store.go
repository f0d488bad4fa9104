package catalog

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
)

// maxCachedSnapshots bounds the Cache. Old versions are only needed by
// transactions and AS OF SYSTEM TIME reads that started before a DDL, so a
// handful is plenty; an evicted one is simply read again.
const maxCachedSnapshots = 8

// Cache holds decoded Snapshots by catalog version. It is shared by every
// session of a VC's Server and safe for concurrent use.
type Cache struct {
	// latest is the most recently added snapshot: nearly every lookup is
	// for it, so it is found without taking the lock.
	latest atomic.Pointer[Snapshot]
	mu     struct {
		sync.Mutex
		byVersion map[string]*Snapshot
		order     []string // insertion order, for eviction
	}
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	c := &Cache{}
	c.mu.byVersion = make(map[string]*Snapshot)
	return c
}

func (c *Cache) get(version string) *Snapshot {
	if l := c.latest.Load(); l != nil && l.Version == version {
		return l
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.byVersion[version]
}

func (c *Cache) put(s *Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.byVersion[s.Version]; ok {
		return
	}
	if len(c.mu.order) >= maxCachedSnapshots {
		delete(c.mu.byVersion, c.mu.order[0])
		c.mu.order = c.mu.order[1:]
	}
	c.mu.byVersion[s.Version] = s
	c.mu.order = append(c.mu.order, s.Version)
	c.latest.Store(s)
}

// Collection is one transaction's view of the catalog (see the package doc).
type Collection struct {
	keys  Keys
	cache *Cache
	txn   *kv.Txn

	snap *Snapshot
	// known, when set, is the catalog version the caller knows to be
	// current at the transaction's read timestamp (UseVersion), so that
	// Snapshot need not read the version key.
	known string
	// private is true once snap is this transaction's own modified copy.
	private bool
	// newVersion is the version this transaction writes when it changes a
	// descriptor.
	newVersion []byte
}

// NewCollection returns the catalog view of txn. keys.Prefix must be the VC's
// prefix.
func NewCollection(keys Keys, cache *Cache, txn *kv.Txn) *Collection {
	return &Collection{keys: keys, cache: cache, txn: txn}
}

// UseVersion tells the collection the catalog version current at the
// transaction's read timestamp, sparing Snapshot its read of the version
// key. Without the key in the read set, a concurrent schema change does not
// conflict with the transaction in KV: a caller that commits writes must
// check the version itself before committing (KnownVersion). A
// transaction that changes the catalog reads the key after all.
func (c *Collection) UseVersion(version string) { c.known = version }

// KnownVersion returns the version given to UseVersion while the
// transaction has not changed the catalog ("" otherwise).
func (c *Collection) KnownVersion() string { return c.known }

// NewVersion returns the catalog version this transaction writes, or """"
// when it changed no descriptor.
func (c *Collection) NewVersion() string {
	if !c.private {
		return ""
	}
	return string(c.newVersion)
}

// Keys returns the key builder of the collection's VC.
func (c *Collection) Keys() Keys { return c.keys }

// Txn returns the KV transaction of the collection.
func (c *Collection) Txn() *kv.Txn { return c.txn }

// Snapshot returns the catalog as this transaction sees it. The first call
// reads the catalog version through the transaction (adding it to the read
// set, see the package doc).
func (c *Collection) Snapshot(ctx context.Context) (*Snapshot, error) {
	if c.snap != nil {
		return c.snap, nil
	}
	if c.known != "" {
		if s := c.cache.get(c.known); s != nil {
			c.snap = s
			return s, nil
		}
	}
	v, found, err := c.txn.Get(ctx, c.keys.Version())
	if err != nil {
		return nil, err
	}
	if !found {
		// Reading before the VC was bootstrapped (AS OF SYSTEM TIME, or a
		// replica that has not received the catalog yet): nothing exists.
		c.snap = newSnapshot("", nil, nil, nil)
		return c.snap, nil
	}
	if s := c.cache.get(string(v)); s != nil {
		c.snap = s
		return s, nil
	}
	s, err := c.readSnapshot(ctx, string(v))
	if err != nil {
		return nil, err
	}
	c.cache.put(s)
	c.snap = s
	return s, nil
}

// Modified reports whether the transaction changed the catalog.
func (c *Collection) Modified() bool { return c.private }

// readSnapshot reads every descriptor, user and membership through the
// transaction.
func (c *Collection) readSnapshot(ctx context.Context, version string) (*Snapshot, error) {
	descs, err := c.scanDescriptors(ctx)
	if err != nil {
		return nil, err
	}
	users, err := scanUsers(ctx, c.txn, c.keys)
	if err != nil {
		return nil, err
	}
	members, err := scanRoleMembers(ctx, c.txn, c.keys)
	if err != nil {
		return nil, err
	}
	settings, err := scanRoleSettings(ctx, c.txn, c.keys)
	if err != nil {
		return nil, err
	}
	return newSnapshot(version, descs, users, members, settings...), nil
}

func (c *Collection) scanDescriptors(ctx context.Context) ([]*Descriptor, error) {
	var descs []*Descriptor
	prefix := c.keys.DescriptorPrefix()
	err := scanAll(ctx, c.txn, prefix, func(k, v []byte) error {
		d, err := decodeDescriptor(v)
		if err != nil {
			return errors.Wrapf(err, "descriptor key %x", k)
		}
		descs = append(descs, d)
		return nil
	})
	return descs, err
}

// scanAll calls fn for every live key with the given prefix, in key order.
func scanAll(ctx context.Context, txn *kv.Txn, prefix []byte, fn func(k, v []byte) error) error {
	span := kv.Span{Key: prefix, EndKey: kv.PrefixEnd(prefix)}
	for {
		res, err := txn.Scan(ctx, span, kv.ScanOptions{MaxRows: 1000})
		if err != nil {
			return err
		}
		for _, kvp := range res.KVs {
			if err := fn(kvp.Key, kvp.Value); err != nil {
				return err
			}
		}
		if res.ResumeSpan == nil {
			return nil
		}
		span = *res.ResumeSpan
	}
}

// Reload drops the transaction's view so that the next Snapshot reads the
// catalog again through the transaction: used after ROLLBACK TO SAVEPOINT,
// which may undo descriptor writes.
func (c *Collection) Reload(ctx context.Context) error {
	if !c.private {
		return nil
	}
	v, found, err := c.txn.Get(ctx, c.keys.Version())
	if err != nil {
		return err
	}
	if !found {
		return errors.New("virtual cluster catalog is not bootstrapped")
	}
	if string(v) == string(c.newVersion) {
		// Some of this transaction's changes survive: the copy stays
		// private and never enters the shared cache.
		snap, err := c.readSnapshot(ctx, "")
		if err != nil {
			return err
		}
		c.snap = snap
		return nil
	}
	// Every change was undone: the transaction sees the version it started
	// with.
	snap, err := c.readSnapshot(ctx, string(v))
	if err != nil {
		return err
	}
	c.snap = snap
	c.private = false
	return nil
}

// mutable makes the snapshot private and marks the catalog as changed.
func (c *Collection) mutable(ctx context.Context) (*Snapshot, error) {
	s, err := c.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if c.known != "" {
		// A schema change must conflict with concurrent ones in KV: read
		// the version key into the read set.
		v, _, err := c.txn.Get(ctx, c.keys.Version())
		if err != nil {
			return nil, err
		}
		if string(v) != c.known {
			return nil, &kv.RetryError{Reason: "catalog version changed", ReadTimestamp: c.txn.ReadTimestamp()}
		}
		c.known = ""
	}
	if c.newVersion == nil {
		c.newVersion = make([]byte, 16)
		if _, err := rand.Read(c.newVersion); err != nil {
			return nil, err
		}
	}
	// Written on every change (not once) so that a rollback to a savepoint
	// taken before the first change cannot leave changes without a new
	// version.
	if err := c.txn.Put(c.keys.Version(), c.newVersion); err != nil {
		return nil, err
	}
	if !c.private {
		c.snap = s.clone()
		c.private = true
	}
	c.snap.Version = ""
	return c.snap, nil
}

// WriteDescriptor creates or replaces a descriptor. The descriptor must not
// be shared with any snapshot (clone tables before changing them).
func (c *Collection) WriteDescriptor(ctx context.Context, d *Descriptor) error {
	s, err := c.mutable(ctx)
	if err != nil {
		return err
	}
	if d.Table != nil {
		if err := d.Table.init(); err != nil {
			return err
		}
	}
	b, err := encodeDescriptor(d)
	if err != nil {
		return err
	}
	if err := c.txn.Put(c.keys.Descriptor(d.ID()), b); err != nil {
		return err
	}
	s.remove(d.ID())
	s.add(d)
	return nil
}

// DeleteDescriptor removes descriptor id.
func (c *Collection) DeleteDescriptor(ctx context.Context, id ID) error {
	s, err := c.mutable(ctx)
	if err != nil {
		return err
	}
	if err := c.txn.Delete(c.keys.Descriptor(id)); err != nil {
		return err
	}
	s.remove(id)
	return nil
}

// AllocateID returns a new descriptor id.
func (c *Collection) AllocateID(ctx context.Context) (ID, error) {
	v, found, err := c.txn.Get(ctx, c.keys.NextID())
	if err != nil {
		return 0, err
	}
	next := uint64(FirstUserID)
	if found {
		if _, next, err = encoding.DecodeUvarintAscending(v); err != nil {
			return 0, errors.Wrap(err, "decoding next descriptor id")
		}
	}
	if err := c.txn.Put(c.keys.NextID(), encoding.EncodeUvarintAscending(nil, next+1)); err != nil {
		return 0, err
	}
	return ID(next), nil
}

func encodeUvarint(v uint64) []byte { return encoding.EncodeUvarintAscending(nil, v) }
