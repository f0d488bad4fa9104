package replication

import (
	"bytes"
	"context"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// StreamPartition is crdb_internal.stream_partition: it streams the VC's
// span to emit, one frame per call, until ctx ends, the stream is completed
// or expires, or an error occurs. It never returns nil while the stream is
// healthy; the consumer resumes from its persisted state after any return.
//
// With spec.InitialScan it first exports every version at or below the
// start time needed to read the span from its GC threshold on (kv.Export),
// resuming at spec.ScanResumeKey, in frames of about FrameBytes with a
// scan-progress event at each frame boundary, and ends the scan with a
// scan-done event at the start time. Then it subscribes to the span from
// the start time (exclusive): catch-up, live versions with their original
// timestamps, and checkpoints. A frame is emitted at each checkpoint and
// whenever it reaches FrameBytes, so a quiet source sends a small frame per
// checkpoint interval (kv's 5 ms), a busy one a frame per checkpoint with
// everything committed since, and a catch-up (no checkpoints until its end)
// full-size frames.
//
// Flow control: emit blocks when the consumer is slow (over pgwire, TCP
// backpressure); the kv subscription buffers behind it and, if the consumer
// falls too far behind, ends with kv.ErrSubscriberTooSlow, which ends the
// call; the consumer reconnects from its replicated time.
//
// The frame passed to emit is valid only until emit returns.
func (p *Producer) StreamPartition(ctx context.Context, streamID int64, spec []byte, emit func(frame []byte) error) error {
	ps, err := DecodePartitionSpec(spec)
	if err != nil {
		return pgerror.WithCandidateCode(err, pgcode.InvalidParameterValue)
	}
	j, err := p.Job(ctx, streamID)
	if err != nil {
		return err
	}
	if j.Kind != ProducerKindStream {
		return pgerror.Newf(pgcode.ObjectNotInPrerequisiteState, "job %d is not a replication stream", streamID)
	}
	if _, err := parseVersion(ps.ConsumerVersion); err != nil {
		return err
	}
	if ps.ConsumerVersion != "" || ps.MaxFraming != 0 {
		// The consumer may have been upgraded (binary or system VC) since
		// the stream started: what it says now is what counts.
		if err := p.updateJob(ctx, streamID, func(j *ProducerJob) error {
			if ps.ConsumerVersion != "" {
				j.ConsumerVersion = ps.ConsumerVersion
			}
			if ps.MaxFraming != 0 {
				j.ConsumerMaxFraming = ps.MaxFraming
			}
			return nil
		}); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer p.registerStream(streamID, cancel)()
	// Re-read after registering, so that a completion that raced with the
	// registration is not missed.
	if j, err = p.Job(ctx, streamID); err != nil {
		return err
	}
	if j.Status != ProducerRunning {
		return notRunning(j)
	}
	s := &partitionStreamer{
		p: p, job: j, emit: emit,
		prefix:     tenant.Prefix(j.TenantID),
		span:       tenantSpan(j.TenantID),
		frameBytes: p.cfg.FrameBytes,
	}
	if err := s.checkVersions(ctx, j); err != nil {
		return err
	}
	err = s.run(ctx, ps)
	if ctx.Err() != nil {
		// Ended by completion or expiry (our cancel), or by the caller.
		if j2, jerr := p.Job(context.Background(), streamID); jerr == nil && j2.Status != ProducerRunning {
			return notRunning(j2)
		}
	}
	return err
}

type partitionStreamer struct {
	p          *Producer
	job        *ProducerJob
	emit       func([]byte) error
	prefix     []byte
	span       kv.Span
	frameBytes int
	enc        FrameEncoder
	// versionChecked is when checkVersions last ran; sourceVersion is the
	// newest source VC version known (read, or seen in the stream).
	versionChecked time.Time
	sourceVersion  tenant.Version
}

// checkVersions applies the version rule to the source VC's version now
// and the consumer's last known one (a mismatch ends the stream with the
// 55000 refusal) and picks the framing of the frames that follow.
func (s *partitionStreamer) checkVersions(ctx context.Context, j *ProducerJob) error {
	s.versionChecked = time.Now()
	source, err := s.p.tenantVersion(ctx, j.TenantID)
	if err != nil {
		return err
	}
	if err := checkVersionStrings(source.String(), j.ConsumerVersion); err != nil {
		return err
	}
	s.job = j
	if s.sourceVersion.Less(source) {
		s.sourceVersion = source
	}
	s.enc.SetFraming(chooseFraming(s.sourceVersion, j.ConsumerMaxFraming))
	return nil
}

// watchVersion looks at a live version about to be streamed (the initial
// scan's, as of the start time, were covered by the check at the
// partition's start): if it is the source VC's cluster version
// (ProducerConfig.VersionKey), the new value is checked against the
// consumer's version before it is sent, and picks the framing of the
// frames after the current one. The consumer's version is re-read from the
// job record before a refusal, since a heartbeat may have raised it since
// the last check.
func (s *partitionStreamer) watchVersion(ctx context.Context, key, value []byte, tombstone bool) error {
	vk := s.p.cfg.VersionKey
	if vk == nil || tombstone || !bytes.Equal(key, vk) {
		return nil
	}
	v, err := parseVersion(string(value))
	if err != nil {
		return err
	}
	if checkVersionStrings(v.String(), s.job.ConsumerVersion) != nil {
		j, err := s.p.Job(ctx, s.job.ID)
		if err != nil {
			return err
		}
		s.job = j
		if err := checkVersionStrings(v.String(), j.ConsumerVersion); err != nil {
			return err
		}
	}
	// A catch-up replays older values too: only a newer version moves
	// the framing.
	if s.sourceVersion.Less(v) {
		s.sourceVersion = v
		s.enc.SetFraming(chooseFraming(v, s.job.ConsumerMaxFraming))
	}
	return nil
}

// maybeRecheckVersions re-reads both versions at most every
// VersionCheckInterval; it is called right after a checkpoint frame, so a
// new framing starts with the frame after a checkpoint.
func (s *partitionStreamer) maybeRecheckVersions(ctx context.Context) error {
	if time.Since(s.versionChecked) < s.p.cfg.VersionCheckInterval {
		return nil
	}
	j, err := s.p.Job(ctx, s.job.ID)
	if err != nil {
		return err
	}
	return s.checkVersions(ctx, j)
}

func (s *partitionStreamer) flush() error {
	if s.enc.Events() == 0 {
		return nil
	}
	err := s.emit(s.enc.Bytes())
	s.enc.Reset()
	return err
}

func (s *partitionStreamer) suffix(key []byte) ([]byte, error) {
	if !bytes.HasPrefix(key, s.prefix) {
		return nil, errors.AssertionFailedf("replication: key %x outside tenant %d", key, s.job.TenantID)
	}
	return key[len(s.prefix):], nil
}

func (s *partitionStreamer) run(ctx context.Context, ps PartitionSpec) error {
	if ps.InitialScan {
		if err := s.initialScan(ctx, ps); err != nil {
			return err
		}
	}
	return s.follow(ctx, ps.StartTime)
}

func (s *partitionStreamer) initialScan(ctx context.Context, ps PartitionSpec) error {
	span := s.span
	if len(ps.ScanResumeKey) > 0 {
		span.Key = append(append([]byte(nil), s.prefix...), ps.ScanResumeKey...)
	}
	var lastKey []byte
	err := s.p.cfg.Engine.Export(ctx, span, kv.Timestamp{}, ps.StartTime, func(v kv.Version) error {
		k, err := s.suffix(v.Key)
		if err != nil {
			return err
		}
		if !bytes.Equal(k, lastKey) {
			// A frame boundary falls only between keys, so the progress
			// key (everything below it is sent) is exact.
			if s.enc.Len() >= s.frameBytes {
				s.enc.AddScanProgress(k)
				if err := s.flush(); err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			lastKey = append(lastKey[:0], k...)
		}
		s.enc.AddVersion(k, v.Timestamp, v.Value, v.Tombstone)
		return nil
	})
	if err != nil {
		return err
	}
	s.enc.AddScanDone(ps.StartTime)
	return s.flush()
}

func (s *partitionStreamer) follow(ctx context.Context, from kv.Timestamp) error {
	sub, err := s.p.cfg.Engine.Subscribe(ctx, s.span, from, kv.SubscribeOptions{})
	if err != nil {
		return err
	}
	defer sub.Close()
	events := sub.Events()
	ended := func() error {
		if err := sub.Err(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return errors.New("replication: rangefeed ended")
	}
	for {
		var ev kv.Event
		var ok bool
		select {
		case ev, ok = <-events:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return ended()
		}
		sawCheckpoint, err := s.add(ctx, ev)
		if err != nil {
			return err
		}
		// Take whatever is already waiting, up to a full frame or the next
		// checkpoint, so that a backlog travels in few large frames while a
		// checkpoint never waits behind later events.
	drain:
		for !sawCheckpoint && s.enc.Len() < s.frameBytes {
			select {
			case ev, ok = <-events:
				if !ok {
					if err := s.flush(); err != nil {
						return err
					}
					return ended()
				}
				if sawCheckpoint, err = s.add(ctx, ev); err != nil {
					return err
				}
			default:
				break drain
			}
		}
		if sawCheckpoint || s.enc.Len() >= s.frameBytes {
			if err := s.flush(); err != nil {
				return err
			}
		}
		if sawCheckpoint {
			if err := s.maybeRecheckVersions(ctx); err != nil {
				return err
			}
		}
	}
}

func (s *partitionStreamer) add(ctx context.Context, ev kv.Event) (checkpoint bool, err error) {
	switch ev.Type {
	case kv.EventValue:
		k, err := s.suffix(ev.Version.Key)
		if err != nil {
			return false, err
		}
		if err := s.watchVersion(ctx, k, ev.Version.Value, ev.Version.Tombstone); err != nil {
			return false, err
		}
		s.enc.AddVersion(k, ev.Version.Timestamp, ev.Version.Value, ev.Version.Tombstone)
		return false, nil
	case kv.EventCheckpoint:
		s.enc.AddCheckpoint(ev.Resolved)
		return true, nil
	}
	return false, errors.AssertionFailedf("replication: unknown rangefeed event %d", ev.Type)
}
