package replication

import (
	"context"
	"io"
	"sync"
)

// Source is the consumer's view of a primary: the five internal statements
// of the stream protocol, typed. Two implementations exist: InProcessSource
// (direct Producer calls, for tests and benchmarks with two engines in one
// process) and PGSource (the statements over pgwire).
//
// Methods may be called concurrently (a heartbeat runs while a partition
// streams). Errors are whatever the source returned (with its SQLSTATE when
// it came over pgwire) or a transport error; the consumer retries both.
type Source interface {
	// StartStream creates a producer job for the source VC tenantName.
	StartStream(ctx context.Context, tenantName string, req StartRequest) (StreamSpec, error)
	// StreamPartition starts streaming; the FrameStream ends when ctx
	// ends, on Close, or on error.
	StreamPartition(ctx context.Context, streamID int64, spec PartitionSpec) (FrameStream, error)
	// Heartbeat reports the consumer's retained time and version and
	// returns the producer job's status and the source VC's version.
	Heartbeat(ctx context.Context, streamID int64, req HeartbeatRequest) (StreamStatus, error)
	// Complete ends the producer job (successful: after a failover).
	Complete(ctx context.Context, streamID int64, successful bool) error
	// PriorDetails describes the source VC tenantName (failback checks).
	PriorDetails(ctx context.Context, tenantName string) (PriorDetails, error)
	// Close releases the source's connections.
	Close() error
}

// FrameStream is a running partition stream.
type FrameStream interface {
	// Next blocks for the next frame, which the caller then owns. It
	// returns the stream's error when the stream ends (never io.EOF for a
	// healthy stream: a partition stream does not end by itself).
	Next() ([]byte, error)
	// Close ends the stream and waits for its resources.
	Close() error
}

// Dialer opens a Source from a stored source URI. The consumer dials anew
// for every streaming session (after each error or restart). The SQL layer
// provides one that parses the URI (certs.ParseURI, external connections)
// and returns NewPGSource(config).
type Dialer func(ctx context.Context, uri string) (Source, error)

// InProcessSource calls a Producer directly. Frames travel through a
// bounded channel, which is the flow control a TCP connection would give.
type InProcessSource struct {
	P *Producer
}

// NewInProcessSource returns a Source backed by p.
func NewInProcessSource(p *Producer) *InProcessSource { return &InProcessSource{P: p} }

// StartStream implements Source, through the encoded request and answer so
// that the wire encoding is exercised in-process too.
func (s *InProcessSource) StartStream(ctx context.Context, tenantName string, req StartRequest) (StreamSpec, error) {
	raw, err := s.P.StartReplicationStream(ctx, tenantName, req.Encode())
	if err != nil {
		return StreamSpec{}, err
	}
	return DecodeStreamSpec(raw)
}

// inProcessFrameQueue is the number of frames in flight between producer
// and consumer.
const inProcessFrameQueue = 16

// StreamPartition implements Source. The producer runs in a goroutine owned
// by the returned stream; Close stops it and waits.
func (s *InProcessSource) StreamPartition(ctx context.Context, streamID int64, spec PartitionSpec) (FrameStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	fs := &chanFrameStream{frames: make(chan []byte, inProcessFrameQueue), cancel: cancel, done: make(chan struct{})}
	raw := spec.Encode()
	go func() {
		defer close(fs.done)
		err := s.P.StreamPartition(ctx, streamID, raw, func(frame []byte) error {
			f := append([]byte(nil), frame...)
			select {
			case fs.frames <- f:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		fs.err = err
	}()
	return fs, nil
}

type chanFrameStream struct {
	frames chan []byte
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
	once   sync.Once
}

func (c *chanFrameStream) Next() ([]byte, error) {
	select {
	case f := <-c.frames:
		return f, nil
	case <-c.done:
		// Frames emitted before the end are still delivered.
		select {
		case f := <-c.frames:
			return f, nil
		default:
		}
		return nil, c.err
	}
}

func (c *chanFrameStream) Close() error {
	c.once.Do(func() {
		c.cancel()
		<-c.done
	})
	return nil
}

// Heartbeat implements Source.
func (s *InProcessSource) Heartbeat(ctx context.Context, streamID int64, req HeartbeatRequest) (StreamStatus, error) {
	raw, err := s.P.HeartbeatReplicationStream(ctx, streamID, req.Encode())
	if err != nil {
		return StreamStatus{}, err
	}
	return DecodeStreamStatus(raw)
}

// Complete implements Source.
func (s *InProcessSource) Complete(ctx context.Context, streamID int64, successful bool) error {
	return s.P.CompleteReplicationStream(ctx, streamID, successful)
}

// PriorDetails implements Source.
func (s *InProcessSource) PriorDetails(ctx context.Context, tenantName string) (PriorDetails, error) {
	raw, err := s.P.ReplicationPriorDetails(ctx, tenantName)
	if err != nil {
		return PriorDetails{}, err
	}
	return DecodePriorDetails(raw)
}

// Close implements Source.
func (s *InProcessSource) Close() error { return nil }
