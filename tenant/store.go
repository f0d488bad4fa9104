package tenant

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/util/encoding"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
)

// Store keeps the VC records in the system VC's span:
//
//	MetaPrefix(MetaRecords) + 0x01 + uvarint(id)   record (JSON)
//	MetaPrefix(MetaRecords) + 0x02                 next id to allocate (uvarint)
//
// Every method takes the caller's transaction, so a statement can change a
// record and other state atomically; a nil txn runs the method in its own
// transaction, retried on conflict. Name uniqueness holds under concurrency
// because Create reads the whole record span and kv transactions are
// serializable: of two concurrent creations of one name, the second to commit
// fails validation, is retried and then sees the first.
type Store struct {
	eng *kv.Engine
}

// NewStore returns the record store of eng.
func NewStore(eng *kv.Engine) *Store { return &Store{eng: eng} }

const (
	recordKeyByte = 0x01
	nextIDKeyByte = 0x02
	// maxTxnAttempts bounds retries of the store's own transactions; VC
	// statements are rare, so conflicts beyond a few attempts mean a bug.
	maxTxnAttempts = 20
)

func recordsSpan() kv.Span {
	p := append(MetaPrefix(MetaRecords), recordKeyByte)
	return kv.Span{Key: p, EndKey: kv.PrefixEnd(p)}
}

func recordKey(id ID) []byte {
	return encoding.EncodeUvarintAscending(append(MetaPrefix(MetaRecords), recordKeyByte), uint64(id))
}

func nextIDKey() []byte { return append(MetaPrefix(MetaRecords), nextIDKeyByte) }

// RunTxn runs fn in a new read-write transaction of eng and commits it,
// retrying from scratch when the commit reports a serialization conflict.
func RunTxn(ctx context.Context, eng *kv.Engine, fn func(txn *kv.Txn) error) error {
	for attempt := 1; ; attempt++ {
		txn := eng.Begin(kv.TxnOptions{})
		if err := fn(txn); err != nil {
			txn.Rollback()
			return err
		}
		_, err := txn.Commit(ctx)
		if err == nil || !kv.IsRetryable(err) || attempt == maxTxnAttempts {
			return err
		}
	}
}

func (s *Store) inTxn(ctx context.Context, txn *kv.Txn, fn func(txn *kv.Txn) error) error {
	if txn != nil {
		return fn(txn)
	}
	return RunTxn(ctx, s.eng, fn)
}

// Bootstrap writes the system VC's record (id 1, ready, shared) and starts
// the id sequence at 2, if the store has no records yet. It is idempotent.
func (s *Store) Bootstrap(ctx context.Context) error {
	return RunTxn(ctx, s.eng, func(txn *kv.Txn) error {
		if _, found, err := txn.Get(ctx, recordKey(SystemID)); err != nil || found {
			return err
		}
		sys := &Record{ID: SystemID, Name: SystemName, DataState: DataStateReady, ServiceMode: ServiceModeShared}
		if err := s.Put(ctx, txn, sys); err != nil {
			return err
		}
		return txn.Put(nextIDKey(), encoding.EncodeUvarintAscending(nil, uint64(SystemID)+1))
	})
}

// Get returns VC id's record, dropped or not.
func (s *Store) Get(ctx context.Context, txn *kv.Txn, id ID) (*Record, error) {
	var rec *Record
	err := s.inTxn(ctx, txn, func(txn *kv.Txn) error {
		v, found, err := txn.Get(ctx, recordKey(id))
		if err != nil {
			return err
		}
		if !found {
			return pgerror.Newf(pgcode.UndefinedObject, "tenant \"[%d]\" does not exist", id)
		}
		rec, err = decodeRecord(v)
		return err
	})
	return rec, err
}

// GetByName returns the record of the VC named name; dropped VCs have given
// up their names.
func (s *Store) GetByName(ctx context.Context, txn *kv.Txn, name string) (*Record, error) {
	var found *Record
	err := s.inTxn(ctx, txn, func(txn *kv.Txn) error {
		recs, err := s.List(ctx, txn)
		if err != nil {
			return err
		}
		found = byName(recs, name)
		if found == nil {
			return pgerror.Newf(pgcode.UndefinedObject, "tenant %q does not exist", name)
		}
		return nil
	})
	return found, err
}

func byName(recs []*Record, name string) *Record {
	for _, r := range recs {
		if r.Visible() && r.Name == name {
			return r
		}
	}
	return nil
}

// List returns every record, dropped ones included, ordered by id.
func (s *Store) List(ctx context.Context, txn *kv.Txn) ([]*Record, error) {
	var recs []*Record
	err := s.inTxn(ctx, txn, func(txn *kv.Txn) error {
		recs = recs[:0]
		span := recordsSpan()
		for {
			res, err := txn.Scan(ctx, span, kv.ScanOptions{})
			if err != nil {
				return err
			}
			for _, kvp := range res.KVs {
				r, err := decodeRecord(kvp.Value)
				if err != nil {
					return err
				}
				recs = append(recs, r)
			}
			if res.ResumeSpan == nil {
				break
			}
			span = *res.ResumeSpan
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
		return nil
	})
	return recs, err
}

// Create validates rec's name, checks that no live VC has it, allocates a
// new id (never reused: the sequence only moves up) and writes the record. It
// returns the new id, also stored in rec.ID.
func (s *Store) Create(ctx context.Context, txn *kv.Txn, rec *Record) (ID, error) {
	if err := CheckName(rec.Name); err != nil {
		return 0, err
	}
	err := s.inTxn(ctx, txn, func(txn *kv.Txn) error {
		recs, err := s.List(ctx, txn)
		if err != nil {
			return err
		}
		if byName(recs, rec.Name) != nil {
			return pgerror.Newf(pgcode.DuplicateObject, "tenant with name %q already exists", rec.Name)
		}
		next := uint64(SystemID) + 1
		if v, found, err := txn.Get(ctx, nextIDKey()); err != nil {
			return err
		} else if found {
			if _, next, err = encoding.DecodeUvarintAscending(v); err != nil {
				return errors.Wrap(err, "decoding the VC id sequence")
			}
		}
		for _, r := range recs {
			if uint64(r.ID) >= next {
				next = uint64(r.ID) + 1
			}
		}
		rec.ID = ID(next)
		if err := txn.Put(nextIDKey(), encoding.EncodeUvarintAscending(nil, next+1)); err != nil {
			return err
		}
		return s.Put(ctx, txn, rec)
	})
	if err != nil {
		return 0, err
	}
	return rec.ID, nil
}

// CreateWithID creates rec with the id it names (CREATE VIRTUAL CLUSTER
// [id]). The id must never have been allocated: it must be at least the
// next id of the sequence, which moves past it, so ids stay never reused.
// Names are checked as in Create.
func (s *Store) CreateWithID(ctx context.Context, txn *kv.Txn, rec *Record) error {
	if err := CheckName(rec.Name); err != nil {
		return err
	}
	if rec.ID <= SystemID {
		return pgerror.Newf(pgcode.InvalidParameterValue, "cannot create tenant with ID %d: ID assigned to system tenant", rec.ID)
	}
	return s.inTxn(ctx, txn, func(txn *kv.Txn) error {
		recs, err := s.List(ctx, txn)
		if err != nil {
			return err
		}
		if byName(recs, rec.Name) != nil {
			return pgerror.Newf(pgcode.DuplicateObject, "tenant with name %q already exists", rec.Name)
		}
		next := uint64(SystemID) + 1
		if v, found, err := txn.Get(ctx, nextIDKey()); err != nil {
			return err
		} else if found {
			if _, next, err = encoding.DecodeUvarintAscending(v); err != nil {
				return errors.Wrap(err, "decoding the VC id sequence")
			}
		}
		for _, r := range recs {
			if r.ID == rec.ID {
				return pgerror.Newf(pgcode.DuplicateObject, "tenant with ID %d already exists", rec.ID)
			}
			if uint64(r.ID) >= next {
				next = uint64(r.ID) + 1
			}
		}
		if uint64(rec.ID) < next {
			return pgerror.Newf(pgcode.InvalidParameterValue,
				"cannot create tenant with ID %d: IDs below %d were already allocated and are never reused", rec.ID, next)
		}
		if err := txn.Put(nextIDKey(), encoding.EncodeUvarintAscending(nil, uint64(rec.ID)+1)); err != nil {
			return err
		}
		return s.Put(ctx, txn, rec)
	})
}

// Put writes rec as it is.
func (s *Store) Put(ctx context.Context, txn *kv.Txn, rec *Record) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return errors.Wrap(err, "encoding VC record")
	}
	return s.inTxn(ctx, txn, func(txn *kv.Txn) error {
		return txn.Put(recordKey(rec.ID), v)
	})
}

// Update reads VC id's record, applies fn and writes the result, in its own
// transaction retried on conflict. fn may run more than once.
func (s *Store) Update(ctx context.Context, id ID, fn func(*Record) error) error {
	return RunTxn(ctx, s.eng, func(txn *kv.Txn) error {
		rec, err := s.Get(ctx, txn, id)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
		return s.Put(ctx, txn, rec)
	})
}

func decodeRecord(v []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, errors.Wrap(err, "decoding VC record")
	}
	return &r, nil
}
