package replication

import (
	"context"
	"sync"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// A streaming session: one connection to the source, one partition stream,
// and three goroutines, all owned by the session and ended together:
//
//   - the session goroutine dials, starts the partition and then runs the
//     ingester;
//   - the receiver reads frames from the source into a bounded channel, so
//     that network reads overlap the ingester's durable writes;
//   - the heartbeater reports the retained time to the source every
//     HeartbeatInterval and fails the session if the producer job is no
//     longer running.
//
// The first error cancels the others; done closes when all have returned.

// session is one streaming session of a job.
type session struct {
	j *consumerJob
	// Copies of the job's immutable identity: the job goroutine owns rec.
	uri       string
	streamID  int64
	startTime kv.Timestamp
	connected chan struct{}
	done      chan struct{}
	err       error // set before done closes
	ing       *ingester
}

// frameQueue is the receiver's channel capacity, in frames.
const frameQueue = 64

type frameItem struct {
	frame []byte
	err   error
}

func startSession(ctx context.Context, j *consumerJob) *session {
	s := &session{j: j, connected: make(chan struct{}), done: make(chan struct{}),
		uri: j.rec.SourceURI, streamID: j.rec.StreamID, startTime: j.rec.Machine.StartTime}
	s.ing = newIngester(j, j.prog)
	go func() {
		defer close(s.done)
		s.err = s.run(ctx)
	}()
	return s
}

func (s *session) run(ctx context.Context) error {
	j := s.j
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src, err := j.c.cfg.Dial(ctx, s.uri)
	if err != nil {
		return errors.Wrap(err, "replication: connecting to the source")
	}
	defer src.Close()
	// Both versions may have changed since the stream started (RESUME, a
	// reconnect, a restart on a new binary, a finalized source or
	// standby): check them before anything is streamed, and tell the
	// source what this consumer is now.
	own, err := j.c.version(ctx)
	if err != nil {
		return err
	}
	if err := s.checkSourceVersion(ctx, src, own); err != nil {
		return err
	}
	spec := s.ing.partitionSpec()
	spec.ConsumerVersion = own.String()
	spec.MaxFraming = j.c.maxFraming()
	fs, err := src.StreamPartition(ctx, s.streamID, spec)
	if err != nil {
		return err
	}
	defer fs.Close()
	close(s.connected)

	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel()
	}
	frames := make(chan frameItem, frameQueue)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			f, err := fs.Next()
			select {
			case frames <- frameItem{frame: f, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		if err := s.heartbeat(ctx, src); err != nil {
			fail(err)
		}
	}()
	err = s.ing.run(ctx, frames)
	if err != nil {
		fail(err)
	}
	// Closing the stream unblocks a receiver waiting in Next.
	cancel()
	_ = fs.Close()
	wg.Wait()
	return firstErr
}

// checkSourceVersion asks the source (one heartbeat) for its VC's version
// and applies the version rule against this standby's version own. A
// source that cannot be asked is left to the stream to report.
func (s *session) checkSourceVersion(ctx context.Context, src Source, own tenant.Version) error {
	st, err := src.Heartbeat(ctx, s.streamID, HeartbeatRequest{RetainedTime: *s.j.retained.Load(), ConsumerVersion: own.String()})
	if err != nil {
		return nil
	}
	return checkVersionStrings(st.SourceVersion, own.String())
}

func (s *session) heartbeat(ctx context.Context, src Source) error {
	j := s.j
	t := time.NewTicker(j.c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		own, err := j.c.version(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		st, err := src.Heartbeat(ctx, s.streamID, HeartbeatRequest{RetainedTime: *j.retained.Load(), ConsumerVersion: own.String()})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// A failed heartbeat alone does not end a healthy stream; a
			// dead connection shows up in the stream itself.
			continue
		}
		if st.Status != ProducerRunning {
			return errors.Newf("replication: the source's producer job %d is %s", s.streamID, st.Status)
		}
		if err := checkVersionStrings(st.SourceVersion, own.String()); err != nil {
			return err
		}
	}
}

// ingester turns frames into durable data and durable progress. It runs in
// the session goroutine and owns everything below.
//
// Invariant (the replicated_time rule): the progress register, with its
// replicated time R, is written in the same Pebble batch as, or after, all
// the data the stream sent before the checkpoint R. So whenever R is
// durable, every version at or below R is durable too.
type ingester struct {
	j          *consumerJob
	eng        *kv.Engine
	jobID      int64
	prefix     []byte // destination VC prefix
	startTime  kv.Timestamp
	frontier   *Frontier
	span       kv.Span
	flushBytes int
	scanBytes  int

	// prog is the durable progress (as of the last flush).
	prog consumerProgress

	scanning      bool
	scanBuf       []kv.Version
	scanBufBytes  int
	scanResumeKey []byte
	scanDoneAt    kv.Timestamp

	buf         []kv.Version
	bufBytes    int
	resolved    kv.Timestamp // highest checkpoint received
	resolvedN   int64        // checkpoints received since the last flush
	arena       []byte
	eventsSince int64
}

func newIngester(j *consumerJob, prog consumerProgress) *ingester {
	span := tenantSpan(j.rec.TenantID)
	ing := &ingester{
		j: j, eng: j.c.cfg.Engine, jobID: j.rec.ID,
		prefix:     tenant.Prefix(j.rec.TenantID),
		span:       span,
		flushBytes: j.c.cfg.FlushBytes,
		scanBytes:  j.c.cfg.ScanBatchBytes,
		prog:       prog,
		startTime:  j.rec.Machine.StartTime,
	}
	ing.frontier = NewFrontier(span, prog.ReplicatedTime)
	ing.scanning = !prog.ScanDone && !j.rec.Machine.ScanDone
	if j.rec.Machine.ScanDone && prog.ReplicatedTime.Less(j.rec.Machine.ReplicatedTime) {
		// A failback job starts with its replicated time in the record.
		ing.prog.ReplicatedTime = j.rec.Machine.ReplicatedTime
		ing.prog.ScanDone = true
		ing.frontier = NewFrontier(span, ing.prog.ReplicatedTime)
	}
	ing.resolved = ing.prog.ReplicatedTime
	return ing
}

// partitionSpec is where the next stream starts: the initial scan (resumed
// at the last durable key) or everything above the replicated time.
func (ing *ingester) partitionSpec() PartitionSpec {
	if ing.scanning {
		return PartitionSpec{StartTime: ing.startTime, InitialScan: true, ScanResumeKey: ing.prog.ScanResumeKey}
	}
	return PartitionSpec{StartTime: ing.prog.ReplicatedTime}
}

func (ing *ingester) run(ctx context.Context, frames <-chan frameItem) error {
	for {
		var it frameItem
		select {
		case it = <-frames:
		case <-ctx.Done():
			return nil
		}
		if it.err != nil {
			return it.err
		}
		if err := ing.process(it.frame); err != nil {
			return err
		}
		// Group commit: take every frame already waiting before flushing,
		// up to the buffer limit.
	drain:
		for ing.bufBytes < ing.flushBytes && ing.scanBufBytes < ing.scanBytes {
			select {
			case it = <-frames:
				if it.err != nil {
					if err := ing.maybeFlush(ctx, true); err != nil {
						return err
					}
					return it.err
				}
				if err := ing.process(it.frame); err != nil {
					return err
				}
			default:
				break drain
			}
		}
		if err := ing.maybeFlush(ctx, false); err != nil {
			return err
		}
	}
}

func (ing *ingester) destKey(suffix []byte) []byte {
	start := len(ing.arena)
	ing.arena = append(ing.arena, ing.prefix...)
	ing.arena = append(ing.arena, suffix...)
	return ing.arena[start:len(ing.arena):len(ing.arena)]
}

func protocolErrorf(format string, args ...interface{}) error {
	return errors.Newf("replication: stream protocol violation: "+format, args...)
}

// process decodes one frame into the buffers.
func (ing *ingester) process(frame []byte) error {
	f := FrameFraming(frame)
	if max := ing.j.c.maxFraming(); f > max {
		// This consumer announced it decodes up to max: a source that
		// sends more broke the handshake.
		return protocolErrorf("frame in framing v%d; this consumer announced v%d at most", f, max)
	}
	ing.j.metrics.framing.Store(int64(f))
	if f == FramingV2 {
		ing.j.metrics.checksummedFrames.Add(1)
	}
	return DecodeFrame(frame, func(ev *StreamEvent) error {
		switch ev.Kind {
		case EventVersion:
			v := kv.Version{Key: ing.destKey(ev.Key), Timestamp: ev.Timestamp, Value: ev.Value, Tombstone: ev.Tombstone}
			n := len(v.Key) + len(v.Value)
			ing.eventsSince++
			if ing.scanning {
				if ing.startTime.Less(ev.Timestamp) {
					return protocolErrorf("initial scan version at %s above the start time %s", ev.Timestamp, ing.startTime)
				}
				ing.scanBuf = append(ing.scanBuf, v)
				ing.scanBufBytes += n
				return nil
			}
			if ev.Timestamp.LessEq(ing.resolved) {
				return protocolErrorf("version at %s at or below the checkpoint %s", ev.Timestamp, ing.resolved)
			}
			ing.buf = append(ing.buf, v)
			ing.bufBytes += n
		case EventCheckpoint:
			if ing.scanning {
				return protocolErrorf("checkpoint during the initial scan")
			}
			if ing.resolved.Less(ev.Timestamp) {
				ing.resolved = ev.Timestamp
			}
			ing.resolvedN++
		case EventScanProgress:
			if !ing.scanning {
				return protocolErrorf("scan progress outside the initial scan")
			}
			ing.scanResumeKey = append(ing.scanResumeKey[:0], ev.Key...)
		case EventScanDone:
			if !ing.scanning {
				return protocolErrorf("scan done outside the initial scan")
			}
			if ev.Timestamp != ing.startTime {
				return protocolErrorf("initial scan done at %s, expected %s", ev.Timestamp, ing.startTime)
			}
			ing.scanning = false
			ing.scanDoneAt = ev.Timestamp
			ing.resolved = ev.Timestamp
		default:
			return protocolErrorf("unknown event %s", ev.Kind)
		}
		return nil
	})
}

// maybeFlush writes what is due: a full SSTable of the initial scan or its
// end, and streamed data when a checkpoint advanced or the buffer is full.
func (ing *ingester) maybeFlush(ctx context.Context, force bool) error {
	if ing.scanBufBytes >= ing.scanBytes || !ing.scanDoneAt.IsEmpty() || (force && len(ing.scanBuf) > 0) {
		if err := ing.flushScan(ctx); err != nil {
			return err
		}
	}
	if ing.prog.ReplicatedTime.Less(ing.resolved) || ing.bufBytes >= ing.flushBytes || (force && len(ing.buf) > 0) {
		if err := ing.flushStream(ctx); err != nil {
			return err
		}
	}
	if len(ing.buf) == 0 && len(ing.scanBuf) == 0 {
		ing.arena = ing.arena[:0]
	}
	return nil
}

func maxTS(vs []kv.Version, cur kv.Timestamp) kv.Timestamp {
	for i := range vs {
		if cur.Less(vs[i].Timestamp) {
			cur = vs[i].Timestamp
		}
	}
	return cur
}

// flushScan ingests the buffered initial-scan versions as one SSTable, then
// records how far the scan got.
func (ing *ingester) flushScan(ctx context.Context) error {
	next := ing.prog
	if len(ing.scanBuf) > 0 {
		if err := ing.eng.IngestVersions(ctx, ing.scanBuf); err != nil {
			return errors.Wrap(err, "replication: ingesting the initial scan")
		}
		next.MaxWritten = maxTS(ing.scanBuf, next.MaxWritten)
		next.LogicalBytes += int64(ing.scanBufBytes)
		next.SSTBytes += int64(ing.scanBufBytes)
		next.Events += int64(len(ing.scanBuf))
	}
	next.Flushes++
	if !ing.scanDoneAt.IsEmpty() {
		next.ScanDone = true
		next.ScanResumeKey = nil
		next.ReplicatedTime = ing.scanDoneAt
		next.ResolvedEvents++
	} else if len(ing.scanResumeKey) > 0 {
		next.ScanResumeKey = append([]byte(nil), ing.scanResumeKey...)
	}
	if err := writeProgress(ctx, ing.eng, ing.jobID, &next); err != nil {
		return err
	}
	ing.prog = next
	ing.scanBuf = ing.scanBuf[:0]
	ing.scanBufBytes = 0
	if !ing.scanDoneAt.IsEmpty() {
		ing.frontier.Forward(ing.span, ing.scanDoneAt)
		ing.scanDoneAt = kv.Timestamp{}
		ing.j.scanDone.Store(true)
	}
	ing.published()
	return nil
}

// flushStream writes the buffered versions and the progress register in
// one durable batch.
func (ing *ingester) flushStream(ctx context.Context) error {
	next := ing.prog
	next.MaxWritten = maxTS(ing.buf, next.MaxWritten)
	if next.ReplicatedTime.Less(ing.resolved) {
		next.ReplicatedTime = ing.resolved
	}
	next.LogicalBytes += int64(ing.bufBytes)
	next.Events += int64(len(ing.buf))
	next.ResolvedEvents += ing.resolvedN
	next.Flushes++
	batch := append(ing.buf, next.version(ing.jobID))
	if err := ing.eng.WriteVersions(ctx, batch); err != nil {
		return errors.Wrap(err, "replication: writing streamed versions")
	}
	ing.prog = next
	ing.buf = ing.buf[:0]
	ing.bufBytes = 0
	ing.resolvedN = 0
	ing.frontier.Forward(ing.span, next.ReplicatedTime)
	ing.published()
	return nil
}

// published makes the durable progress visible to the job goroutine and to
// readers.
func (ing *ingester) published() {
	j := ing.j
	rt := ing.frontier.Frontier()
	j.replicated.Store(&rt)
	j.metrics.logicalBytes.Store(ing.prog.LogicalBytes)
	j.metrics.sstBytes.Store(ing.prog.SSTBytes)
	j.metrics.events.Store(ing.prog.Events)
	j.metrics.resolvedEvents.Store(ing.prog.ResolvedEvents)
	j.metrics.flushes.Store(ing.prog.Flushes)
	select {
	case j.nudge <- struct{}{}:
	default:
	}
}
