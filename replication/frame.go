package replication

import (
	"encoding/binary"
	"math"

	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
)

// Stream framing.
//
// A partition stream is a sequence of frames; over pgwire each frame is one
// BYTES row of crdb_internal.stream_partition. A frame is a batch of events:
//
//	frame   := version:byte event+
//	event   := 0x01 key ts value         a version (value or tombstone)
//	         | 0x02 ts                   checkpoint: resolved timestamp of the partition
//	         | 0x03 key                  scan progress: every key below key is sent
//	         | 0x04 ts                   initial scan done at ts (implies a checkpoint)
//	key     := uvarint(len) bytes        WITHOUT the source tenant prefix
//	ts      := uvarint(wall) uvarint(logical)
//	value   := 0x00                      tombstone
//	         | 0x01 uvarint(len) bytes   live value
//
// Keys travel without the source tenant prefix: the consumer prepends its
// own VC's prefix, which is the whole of the tenant rewrite, and frames get
// smaller. Timestamps are the original MVCC timestamps of the source.
//
// The first byte is the framing version so that a v2 framing can be gated on
// the cluster version (issue 8). The decoder is strict: an unknown version or
// tag, a truncated field, a non-minimal varint, trailing garbage, a length past the frame, an
// empty timestamp where one is required or a logical counter outside int32
// is an error, never a panic, because frames arrive from another cluster.

// FramingVersion is the only framing this package speaks.
const FramingVersion byte = 1

// Event tags.
const (
	tagVersion      byte = 0x01
	tagCheckpoint   byte = 0x02
	tagScanProgress byte = 0x03
	tagScanDone     byte = 0x04
)

// EventKind says what a StreamEvent carries.
type EventKind byte

// Stream event kinds.
const (
	// EventVersion carries one MVCC version with its original timestamp.
	EventVersion EventKind = EventKind(tagVersion)
	// EventCheckpoint carries a resolved timestamp: no version at or below it
	// follows in this stream.
	EventCheckpoint EventKind = EventKind(tagCheckpoint)
	// EventScanProgress says every key of the initial scan below Key has
	// been sent, so a reconnect can resume the scan at Key.
	EventScanProgress EventKind = EventKind(tagScanProgress)
	// EventScanDone ends the initial scan at Timestamp; it is also a
	// checkpoint at that time.
	EventScanDone EventKind = EventKind(tagScanDone)
)

func (k EventKind) String() string {
	switch k {
	case EventVersion:
		return "version"
	case EventCheckpoint:
		return "checkpoint"
	case EventScanProgress:
		return "scan-progress"
	case EventScanDone:
		return "scan-done"
	}
	return "unknown"
}

// StreamEvent is one decoded event. Key and Value alias the frame.
type StreamEvent struct {
	Kind      EventKind
	Key       []byte // EventVersion, EventScanProgress: key without tenant prefix
	Timestamp kv.Timestamp
	Value     []byte // EventVersion, nil for a tombstone
	Tombstone bool
}

// maxFrameKeyLen bounds a key length field, so a corrupt length cannot ask
// for a huge allocation downstream (CockroachDB keys are far smaller).
const maxFrameKeyLen = 1 << 20

// FrameEncoder builds one frame. The zero value is ready to use.
type FrameEncoder struct {
	buf    []byte
	events int
}

func (e *FrameEncoder) header() {
	if len(e.buf) == 0 {
		e.buf = append(e.buf, FramingVersion)
	}
}

// AddVersion appends a version whose key has already had the source tenant
// prefix removed.
func (e *FrameEncoder) AddVersion(key []byte, ts kv.Timestamp, value []byte, tombstone bool) {
	e.header()
	e.buf = append(e.buf, tagVersion)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(key)))
	e.buf = append(e.buf, key...)
	e.buf = appendTS(e.buf, ts)
	if tombstone {
		e.buf = append(e.buf, 0)
	} else {
		e.buf = append(e.buf, 1)
		e.buf = binary.AppendUvarint(e.buf, uint64(len(value)))
		e.buf = append(e.buf, value...)
	}
	e.events++
}

// AddCheckpoint appends a resolved timestamp.
func (e *FrameEncoder) AddCheckpoint(ts kv.Timestamp) {
	e.header()
	e.buf = append(e.buf, tagCheckpoint)
	e.buf = appendTS(e.buf, ts)
	e.events++
}

// AddScanProgress records that every initial-scan key below key was sent.
func (e *FrameEncoder) AddScanProgress(key []byte) {
	e.header()
	e.buf = append(e.buf, tagScanProgress)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(key)))
	e.buf = append(e.buf, key...)
	e.events++
}

// AddScanDone ends the initial scan at ts.
func (e *FrameEncoder) AddScanDone(ts kv.Timestamp) {
	e.header()
	e.buf = append(e.buf, tagScanDone)
	e.buf = appendTS(e.buf, ts)
	e.events++
}

// Events returns the number of events in the frame.
func (e *FrameEncoder) Events() int { return e.events }

// Len returns the encoded size so far.
func (e *FrameEncoder) Len() int { return len(e.buf) }

// Bytes returns the frame; it aliases the encoder's buffer until Reset.
func (e *FrameEncoder) Bytes() []byte { return e.buf }

// Reset empties the encoder, keeping its buffer.
func (e *FrameEncoder) Reset() {
	e.buf = e.buf[:0]
	e.events = 0
}

func appendTS(b []byte, ts kv.Timestamp) []byte {
	b = binary.AppendUvarint(b, uint64(ts.WallTime))
	return binary.AppendUvarint(b, uint64(ts.Logical))
}

// errFrame marks every decoding error.
var errFrame = errors.New("replication: malformed stream frame")

func frameErrorf(format string, args ...interface{}) error {
	return errors.Mark(errors.Newf("replication: malformed stream frame: "+format, args...), errFrame)
}

// IsFrameError reports whether err is a frame decoding error.
func IsFrameError(err error) bool { return errors.Is(err, errFrame) }

// DecodeFrame calls fn for every event of frame, in order. The event and the
// slices in it alias frame and are valid only during the call. It stops at
// the first error, from the frame or from fn.
func DecodeFrame(frame []byte, fn func(ev *StreamEvent) error) error {
	if len(frame) == 0 {
		return frameErrorf("empty frame")
	}
	if frame[0] != FramingVersion {
		return frameErrorf("unsupported framing version %d (want %d)", frame[0], FramingVersion)
	}
	d := frameDecoder{b: frame[1:], off: 1}
	if len(d.b) == 0 {
		return frameErrorf("frame has no events")
	}
	var ev StreamEvent
	for len(d.b) > 0 {
		tag := d.b[0]
		d.advance(1)
		ev = StreamEvent{Kind: EventKind(tag)}
		var err error
		switch tag {
		case tagVersion:
			if ev.Key, err = d.bytes("key"); err != nil {
				return err
			}
			if ev.Timestamp, err = d.ts(); err != nil {
				return err
			}
			if len(d.b) == 0 {
				return d.errorf("truncated value marker")
			}
			marker := d.b[0]
			d.advance(1)
			switch marker {
			case 0:
				ev.Tombstone = true
			case 1:
				if ev.Value, err = d.bytes("value"); err != nil {
					return err
				}
				if ev.Value == nil {
					ev.Value = []byte{}
				}
			default:
				return d.errorf("bad value marker %d", marker)
			}
		case tagCheckpoint, tagScanDone:
			if ev.Timestamp, err = d.ts(); err != nil {
				return err
			}
		case tagScanProgress:
			if ev.Key, err = d.bytes("key"); err != nil {
				return err
			}
		default:
			return d.errorf("unknown event tag 0x%02x", tag)
		}
		if err := fn(&ev); err != nil {
			return err
		}
	}
	return nil
}

type frameDecoder struct {
	b   []byte
	off int
}

func (d *frameDecoder) advance(n int) {
	d.b = d.b[n:]
	d.off += n
}

func (d *frameDecoder) errorf(format string, args ...interface{}) error {
	return frameErrorf("at offset %d: %s", d.off, errors.Newf(format, args...).Error())
}

func (d *frameDecoder) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, d.errorf("bad %s varint", what)
	}
	if n > 1 && d.b[n-1] == 0 {
		// An overlong encoding: refused so that every frame has exactly
		// one encoding.
		return 0, d.errorf("non-minimal %s varint", what)
	}
	d.advance(n)
	return v, nil
}

func (d *frameDecoder) bytes(what string) ([]byte, error) {
	n, err := d.uvarint(what + " length")
	if err != nil {
		return nil, err
	}
	if n > maxFrameKeyLen && what == "key" {
		return nil, d.errorf("%s length %d too large", what, n)
	}
	if n > uint64(len(d.b)) {
		return nil, d.errorf("%s length %d past the end of the frame", what, n)
	}
	b := d.b[:n:n]
	d.advance(int(n))
	return b, nil
}

func (d *frameDecoder) ts() (kv.Timestamp, error) {
	wall, err := d.uvarint("wall time")
	if err != nil {
		return kv.Timestamp{}, err
	}
	logical, err := d.uvarint("logical")
	if err != nil {
		return kv.Timestamp{}, err
	}
	if wall > math.MaxInt64 || logical > math.MaxInt32 {
		return kv.Timestamp{}, d.errorf("timestamp %d.%d out of range", wall, logical)
	}
	ts := kv.Timestamp{WallTime: int64(wall), Logical: int32(logical)}
	if ts.IsEmpty() {
		return kv.Timestamp{}, d.errorf("empty timestamp")
	}
	return ts, nil
}
