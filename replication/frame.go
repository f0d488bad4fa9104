package replication

import (
	"encoding/binary"
	"hash/crc32"
	"math"

	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
)

// Stream framing.
//
// A partition stream is a sequence of frames; over pgwire each frame is one
// BYTES row of crdb_internal.stream_partition. A frame is a batch of events:
//
//	frame   := 0x01 event+                       framing v1
//	         | 0x02 event+ crc32c:uint32le      framing v2
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
// The first byte is the framing version. Framing v2 ends the frame with the
// CRC-32C (Castagnoli) of every byte before it, so that a frame damaged
// anywhere between the producer's encoder and the consumer's decoder (a
// proxy, a bad NIC, a memory error) is refused instead of ingested: v1's
// strict decoder catches damage that breaks the structure, but not a
// flipped bit inside a value or a timestamp. v2 is gated on the source
// VC's cluster version (FramingV2ClusterVersion, issue 8) and on the
// consumer announcing it can decode it (producer_stream.go decides;
// versions.go). The decoder is strict: an unknown version or tag, a
// truncated field, a non-minimal varint, trailing garbage, a length past
// the frame, an empty timestamp where one is required, a logical counter
// outside int32 or a wrong checksum is an error, never a panic, because
// frames arrive from another cluster.

// Framing versions.
const (
	// FramingV1 is the original framing, kept for sources whose VC is
	// older than FramingV2ClusterVersion and consumers that cannot decode
	// v2.
	FramingV1 byte = 1
	// FramingV2 adds a CRC-32C trailer to every frame.
	FramingV2 byte = 2
	// MaxFramingVersion is the newest framing this package decodes.
	MaxFramingVersion = FramingV2
)

// frameCRCLen is the size of framing v2's trailer.
const frameCRCLen = 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

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

// FrameEncoder builds one frame. The zero value is ready to use and
// encodes framing v1; SetFraming chooses another.
type FrameEncoder struct {
	buf     []byte
	events  int
	framing byte
	// sealed: buf ends with the v2 checksum trailer (Bytes added it).
	sealed bool
}

// SetFraming makes the frames that follow use framing f (FramingV1 or
// FramingV2). It takes effect at the next frame: a frame under way keeps
// the framing it started with, so a switch always falls on a frame
// boundary.
func (e *FrameEncoder) SetFraming(f byte) {
	if f != FramingV2 {
		f = FramingV1
	}
	e.framing = f
}

// Framing returns the framing of the frame under way (or of the next one,
// when none is).
func (e *FrameEncoder) Framing() byte {
	if len(e.buf) > 0 {
		return e.buf[0]
	}
	if e.framing == 0 {
		return FramingV1
	}
	return e.framing
}

func (e *FrameEncoder) header() {
	if e.sealed {
		// More events after Bytes: the trailer goes, and comes back at
		// the next Bytes.
		e.buf = e.buf[:len(e.buf)-frameCRCLen]
		e.sealed = false
	}
	if len(e.buf) == 0 {
		e.buf = append(e.buf, e.Framing())
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

// Bytes returns the frame, with its checksum trailer in framing v2; it
// aliases the encoder's buffer until Reset or the next Add.
func (e *FrameEncoder) Bytes() []byte {
	if len(e.buf) > 0 && e.buf[0] == FramingV2 && !e.sealed {
		e.buf = binary.LittleEndian.AppendUint32(e.buf, crc32.Checksum(e.buf, castagnoli))
		e.sealed = true
	}
	return e.buf
}

// Reset empties the encoder, keeping its buffer and its framing.
func (e *FrameEncoder) Reset() {
	e.buf = e.buf[:0]
	e.events = 0
	e.sealed = false
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

// FrameFraming returns a frame's framing version (0 for an empty frame),
// without validating the frame.
func FrameFraming(frame []byte) byte {
	if len(frame) == 0 {
		return 0
	}
	return frame[0]
}

// DecodeFrame calls fn for every event of frame, in order. The event and the
// slices in it alias frame and are valid only during the call. It stops at
// the first error, from the frame or from fn. A v2 frame's checksum is
// verified before any event is passed to fn, so a damaged frame delivers
// nothing.
func DecodeFrame(frame []byte, fn func(ev *StreamEvent) error) error {
	if len(frame) == 0 {
		return frameErrorf("empty frame")
	}
	body := frame[1:]
	switch frame[0] {
	case FramingV1:
	case FramingV2:
		if len(body) < frameCRCLen {
			return frameErrorf("truncated checksum")
		}
		n := len(frame) - frameCRCLen
		want := binary.LittleEndian.Uint32(frame[n:])
		if got := crc32.Checksum(frame[:n], castagnoli); got != want {
			return frameErrorf("checksum mismatch: frame of %d bytes has CRC-32C %08x, trailer says %08x", len(frame), got, want)
		}
		body = frame[1:n]
	default:
		return frameErrorf("unsupported framing version %d (this node decodes 1 to %d)", frame[0], MaxFramingVersion)
	}
	d := frameDecoder{b: body, off: 1}
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
