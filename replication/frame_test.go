package replication

import (
	"bytes"
	"fmt"
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
	var enc FrameEncoder
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
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 500; i++ {
		evs := randomEvents(rng, 1+rng.Intn(30))
		got, err := decodeAll(encodeEvents(evs))
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

func TestFrameDecodeErrors(t *testing.T) {
	var enc FrameEncoder
	enc.AddVersion([]byte("k"), kv.Timestamp{WallTime: 5}, []byte("v"), false)
	good := append([]byte(nil), enc.Bytes()...)
	for name, frame := range map[string][]byte{
		"empty":           {},
		"version only":    {FramingVersion},
		"future version":  append([]byte{2}, good[1:]...),
		"unknown tag":     {FramingVersion, 0x7f},
		"truncated":       good[:len(good)-1],
		"trailing":        append(append([]byte(nil), good...), 0x01),
		"empty ts":        {FramingVersion, tagCheckpoint, 0, 0},
		"logical too big": {FramingVersion, tagCheckpoint, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad marker":      {FramingVersion, tagVersion, 1, 'k', 5, 0, 7},
		"key past end":    {FramingVersion, tagScanProgress, 9, 'k'},
		"bad varint":      {FramingVersion, tagCheckpoint, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
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
	for i := 0; i < 8; i++ {
		frame := encodeEvents(randomEvents(rng, 1+i*3))
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", frame)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecodeFrame: decoding arbitrary bytes never panics, and whatever
// decodes re-encodes to the same bytes (the framing has one encoding).
func FuzzDecodeFrame(f *testing.F) {
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 4; i++ {
		f.Add(encodeEvents(randomEvents(rng, 1+i)))
	}
	f.Add([]byte{FramingVersion})
	f.Fuzz(func(t *testing.T, frame []byte) {
		evs, err := decodeAll(frame)
		if err != nil {
			if !IsFrameError(err) {
				t.Fatalf("non-frame error %v", err)
			}
			return
		}
		if again := encodeEvents(evs); !bytes.Equal(again, frame) {
			t.Fatalf("re-encoding differs:\n%x\n%x", frame, again)
		}
	})
}
