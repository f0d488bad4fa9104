package replication

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/vcdb/vcdb/kv"
)

// randomEvents returns a random sequence of events with owned slices.
func randomEvents(rng *rand.Rand, n int) []StreamEvent {
	evs := make([]StreamEvent, n)
	for i := range evs {
		ts := kv.Timestamp{WallTime: rng.Int63n(1<<62) + 1, Logical: rng.Int31n(5)}
		key := make([]byte, rng.Intn(12))
		rng.Read(key)
		switch rng.Intn(4) {
		case 0, 1:
			ev := StreamEvent{Kind: EventVersion, Key: key, Timestamp: ts}
			if rng.Intn(4) == 0 {
				ev.Tombstone = true
			} else {
				ev.Value = make([]byte, rng.Intn(20))
				rng.Read(ev.Value)
			}
			evs[i] = ev
		case 2:
			evs[i] = StreamEvent{Kind: EventCheckpoint, Timestamp: ts}
		case 3:
			if rng.Intn(2) == 0 {
				evs[i] = StreamEvent{Kind: EventScanProgress, Key: key}
			} else {
				evs[i] = StreamEvent{Kind: EventScanDone, Timestamp: ts}
			}
		}
	}
	return evs
}

func encodeEvents(evs []StreamEvent) []byte {
	return encodeEventsFraming(FramingV1, evs)
}

func encodeEventsFraming(framing byte, evs []StreamEvent) []byte {
	var enc FrameEncoder
	enc.SetFraming(framing)
	for _, ev := range evs {
		switch ev.Kind {
		case EventVersion:
			enc.AddVersion(ev.Key, ev.Timestamp, ev.Value, ev.Tombstone)
		case EventCheckpoint:
			enc.AddCheckpoint(ev.Timestamp)
		case EventScanProgress:
			enc.AddScanProgress(ev.Key)
		case EventScanDone:
			enc.AddScanDone(ev.Timestamp)
		}
	}
	return append([]byte(nil), enc.Bytes()...)
}

func decodeAll(frame []byte) ([]StreamEvent, error) {
	var out []StreamEvent
	err := DecodeFrame(frame, func(ev *StreamEvent) error {
		c := *ev
		c.Key = append([]byte(nil), ev.Key...)
		if ev.Value != nil {
			c.Value = append([]byte{}, ev.Value...)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

func eventString(ev StreamEvent) string {
	return fmt.Sprintf("%s %x %s %x %t", ev.Kind, ev.Key, ev.Timestamp, ev.Value, ev.Tombstone)
}

func TestFrameRoundTrip(t *testing.T) {
	for _, framing := range []byte{FramingV1, FramingV2} {
		rng := rand.New(rand.NewSource(1))
		for i := 0; i < 500; i++ {
			evs := randomEvents(rng, 1+rng.Intn(30))
			frame := encodeEventsFraming(framing, evs)
			if FrameFraming(frame) != framing {
				t.Fatalf("framing %d: frame says %d", framing, FrameFraming(frame))
			}
			got, err := decodeAll(frame)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(evs) {
				t.Fatalf("decoded %d events, encoded %d", len(got), len(evs))
			}
			for k := range evs {
				if a, b := eventString(evs[k]), eventString(got[k]); a != b {
					t.Fatalf("event %d: %s != %s", k, a, b)
				}
			}
		}
	}
}

// TestFrameV2DetectsCorruption: every single-bit flip and every truncation
// of a v2 frame is refused before any event is delivered, including flips
// inside a value or a timestamp, which v1's structure cannot notice (the
// test shows v1 accepting some of them, which is why v2 exists).
func TestFrameV2DetectsCorruption(t *testing.T) {
	evs := []StreamEvent{
		{Kind: EventVersion, Key: []byte("key"), Timestamp: kv.Timestamp{WallTime: 1700000000000000000, Logical: 1}, Value: []byte("some value")},
		{Kind: EventCheckpoint, Timestamp: kv.Timestamp{WallTime: 1700000000000000001}},
	}
	v1 := encodeEventsFraming(FramingV1, evs)
	v2 := encodeEventsFraming(FramingV2, evs)
	if len(v2) != len(v1)+frameCRCLen {
		t.Fatalf("v2 frame %d bytes, v1 %d: want a 4-byte trailer", len(v2), len(v1))
	}
	silentV1 := 0
	for i := 1; i < len(v1)*8; i++ {
		f := append([]byte(nil), v1...)
		f[i/8] ^= 1 << (i % 8)
		if _, err := decodeAll(f); err == nil {
			silentV1++
		}
	}
	if silentV1 == 0 {
		t.Fatal("expected v1 to accept some corrupted frames")
	}
	for i := 8; i < len(v2)*8; i++ { // the version byte is checked separately
		f := append([]byte(nil), v2...)
		f[i/8] ^= 1 << (i % 8)
		delivered := 0
		err := DecodeFrame(f, func(*StreamEvent) error { delivered++; return nil })
		if !IsFrameError(err) || delivered != 0 {
			t.Fatalf("bit %d flipped: err %v, %d events delivered", i, err, delivered)
		}
	}
	for n := 0; n < len(v2); n++ {
		if _, err := decodeAll(v2[:n]); !IsFrameError(err) {
			t.Fatalf("v2 frame truncated to %d bytes: %v", n, err)
		}
	}
	t.Logf("v1 accepted %d of %d single-bit flips; v2 none", silentV1, len(v1)*8-1)
}

// TestFrameEncoderSwitch: SetFraming takes effect at the next frame, and
// Bytes may be called before more events are added.
func TestFrameEncoderSwitch(t *testing.T) {
	var enc FrameEncoder
	enc.AddCheckpoint(kv.Timestamp{WallTime: 1})
	enc.SetFraming(FramingV2)
	enc.AddCheckpoint(kv.Timestamp{WallTime: 2})
	if f := enc.Bytes(); FrameFraming(f) != FramingV1 {
		t.Fatalf("a frame under way changed framing: %d", FrameFraming(f))
	}
	enc.Reset()
	enc.AddCheckpoint(kv.Timestamp{WallTime: 3})
	_ = enc.Bytes() // seals
	enc.AddCheckpoint(kv.Timestamp{WallTime: 4})
	got, err := decodeAll(enc.Bytes())
	if err != nil || len(got) != 2 || FrameFraming(enc.Bytes()) != FramingV2 {
		t.Fatalf("%v %v", got, err)
	}
}

func TestFrameDecodeErrors(t *testing.T) {
	var enc FrameEncoder
	enc.AddVersion([]byte("k"), kv.Timestamp{WallTime: 5}, []byte("v"), false)
	good := append([]byte(nil), enc.Bytes()...)
	for name, frame := range map[string][]byte{
		"empty":           {},
		"version only":    {FramingV1},
		"future version":  append([]byte{3}, good[1:]...),
		"v2 no trailer":   append([]byte{FramingV2}, good[1:]...),
		"v2 only trailer": {FramingV2, 0, 0, 0, 0},
		"unknown tag":     {FramingV1, 0x7f},
		"truncated":       good[:len(good)-1],
		"trailing":        append(append([]byte(nil), good...), 0x01),
		"empty ts":        {FramingV1, tagCheckpoint, 0, 0},
		"logical too big": {FramingV1, tagCheckpoint, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad marker":      {FramingV1, tagVersion, 1, 'k', 5, 0, 7},
		"key past end":    {FramingV1, tagScanProgress, 9, 'k'},
		"bad varint":      {FramingV1, tagCheckpoint, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if _, err := decodeAll(frame); !IsFrameError(err) {
			t.Errorf("%s: expected a frame error, got %v", name, err)
		}
	}
	if _, err := decodeAll(good); err != nil {
		t.Fatal(err)
	}
}

// TestWriteFuzzSeeds keeps the committed seed corpus in step with the
// encoder: with VCDB_WRITE_FUZZ_SEEDS=1 it rewrites the seed files.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("VCDB_WRITE_FUZZ_SEEDS") == "" {
		return
	}
	rng := rand.New(rand.NewSource(7))
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeFrame")
	for i := 0; i < 12; i++ {
		framing := FramingV1
		if i >= 8 {
			framing = FramingV2
		}
		frame := encodeEventsFraming(framing, randomEvents(rng, 1+i*3))
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", frame)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodeFrame: decoding arbitrary bytes never panics, and whatever
// decodes re-encodes, in the frame's own framing, to the same bytes (each
// framing has one encoding). Seeds cover both framings; for v2 the fuzzer
// also gets the body with a fixed-up checksum (fuzzV2), so that mutations
// reach the event decoder behind the checksum.
func FuzzDecodeFrame(f *testing.F) {
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 4; i++ {
		f.Add(encodeEvents(randomEvents(rng, 1+i)))
		f.Add(encodeEventsFraming(FramingV2, randomEvents(rng, 1+i)))
	}
	f.Add([]byte{FramingV1})
	f.Add([]byte{FramingV2})
	f.Fuzz(func(t *testing.T, frame []byte) {
		for _, in := range [][]byte{frame, fuzzV2(frame)} {
			evs, err := decodeAll(in)
			if err != nil {
				if !IsFrameError(err) {
					t.Fatalf("non-frame error %v", err)
				}
				continue
			}
			if again := encodeEventsFraming(FrameFraming(in), evs); !bytes.Equal(again, in) {
				t.Fatalf("re-encoding differs:\n%x\n%x", in, again)
			}
		}
	})
}

// fuzzV2 turns arbitrary bytes into a v2 frame with a valid checksum: the
// version byte, the input as the body, and the body's CRC-32C.
func fuzzV2(body []byte) []byte {
	f := append([]byte{FramingV2}, body...)
	return binary.LittleEndian.AppendUint32(f, crc32.Checksum(f, castagnoli))
}

// BenchmarkFrameCodec encodes and decodes a ~1 MB frame of 64-byte values
// (the size of a catch-up frame) in each framing; the difference is
// framing v2's CRC-32C, computed once by the encoder and once by the
// decoder.
func BenchmarkFrameCodec(b *testing.B) {
	for _, framing := range []byte{FramingV1, FramingV2} {
		b.Run(fmt.Sprintf("v%d", framing), func(b *testing.B) {
			var enc FrameEncoder
			enc.SetFraming(framing)
			val := make([]byte, 64)
			ts := kv.Timestamp{WallTime: 1700000000000000000}
			build := func() []byte {
				enc.Reset()
				for k := 0; enc.Len() < DefaultFrameBytes; k++ {
					enc.AddVersion([]byte(fmt.Sprintf("key%08d", k)), ts, val, false)
				}
				enc.AddCheckpoint(ts)
				return enc.Bytes()
			}
			b.SetBytes(int64(len(build())))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				frame := build()
				if err := DecodeFrame(frame, func(*StreamEvent) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
