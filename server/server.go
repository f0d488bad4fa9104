package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"log"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/errors"
)

// Config configures a wire Server.
type Config struct {
	// Route chooses the virtual cluster of each new connection.
	Route Router
	// Insecure accepts connections without TLS and trusts the user name
	// (SSLRequest is answered 'N'). Otherwise TLS must be set: every
	// connection must negotiate TLS before its StartupMessage and
	// authenticate with a client certificate or a password.
	Insecure bool
	// TLS is the server's TLS configuration in secure mode
	// (certs.LoadServerTLSConfig).
	TLS *tls.Config
	// PasswordMethod is how password users authenticate in secure mode:
	// PasswordSCRAM (the default) or PasswordCleartext.
	PasswordMethod PasswordMethod
	// AuthFailureDelay is the pause before a failed login is answered,
	// against password guessing; the actual delay is drawn between it
	// and twice it. 0 means DefaultAuthFailureDelay; negative disables it.
	AuthFailureDelay time.Duration
	// MaxMessageSize bounds a message body; 0 means
	// DefaultMaxMessageSize.
	MaxMessageSize int
	// StartupTimeout bounds the startup phase (from accept to the first
	// ReadyForQuery), so that idle or slow clients cannot hold connection
	// slots; 0 means PostgreSQL's authentication_timeout default, 1 min.
	StartupTimeout time.Duration
	// Logf logs server events; nil means the standard logger.
	Logf func(format string, args ...interface{})
}

// Server accepts Postgres wire protocol connections and serves each in its
// own goroutine (see conn). It owns those goroutines: Drain and Close stop
// them and wait for them.
type Server struct {
	cfg Config
	// ctx is the parent of every connection's context; cancelling it
	// (Close) stops all statements.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// drainCh is closed when draining starts: idle connections close.
	drainCh   chan struct{}
	drainOnce sync.Once
	// drainCtx is cancelled when draining starts (with drainCh): running
	// statements whose results never end by themselves (drainEnder) are
	// cancelled from it.
	drainCtx  context.Context
	drainStop context.CancelFunc
	wg        sync.WaitGroup

	nextPID  atomic.Uint32
	newConns atomic.Int64
	// draining mirrors mu.draining for the connections' hot path.
	draining atomic.Bool
	// mockSecret seeds the salts of the mock SCRAM exchange for unknown
	// users, so that a client cannot tell an unknown user from a known
	// one by the salt (it is stable per user for the server's life).
	mockSecret [32]byte
	// metrics are the per-virtual-cluster counters.
	metrics clusterCounters

	mu struct {
		sync.Mutex
		conns     map[uint32]*conn
		listeners map[net.Listener]struct{}
		draining  bool
	}
}

// NewServer returns a server; call Serve with a listener. A secure
// configuration (Insecure false) needs TLS; Serve refuses to start
// without it.
func NewServer(cfg Config) *Server {
	if cfg.StartupTimeout == 0 {
		cfg.StartupTimeout = time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.AuthFailureDelay == 0 {
		cfg.AuthFailureDelay = DefaultAuthFailureDelay
	}
	s := &Server{cfg: cfg, drainCh: make(chan struct{})}
	if _, err := rand.Read(s.mockSecret[:]); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+
		// crashes the program instead of returning an error).
		panic(err)
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.drainCtx, s.drainStop = context.WithCancel(context.Background())
	s.mu.conns = map[uint32]*conn{}
	s.mu.listeners = map[net.Listener]struct{}{}
	return s
}

// ErrServerDraining is returned by Serve when the server stopped accepting.
var ErrServerDraining = errors.New("server is draining")

// Serve accepts connections on ln until Drain or Close, and returns
// ErrServerDraining then (or the accept error that stopped it).
func (s *Server) Serve(ln net.Listener) error {
	if !s.cfg.Insecure && s.cfg.TLS == nil {
		_ = ln.Close()
		return errors.New("secure mode needs a TLS configuration (certificates) or Insecure")
	}
	s.mu.Lock()
	if s.mu.draining {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerDraining
	}
	s.mu.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			draining := s.mu.draining
			delete(s.mu.listeners, ln)
			s.mu.Unlock()
			if draining {
				return ErrServerDraining
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if !s.startConn(nc) {
			_ = nc.Close()
		}
	}
}

// startConn registers a connection and starts its goroutine; false when
// the server is draining.
func (s *Server) startConn(nc net.Conn) bool {
	if tc, ok := nc.(*net.TCPConn); ok {
		// Small request/response messages: never wait to coalesce.
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
	}
	var secret [4]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.draining {
		return false
	}
	// Process ids only need to be unique among open connections; skip
	// zero and ids still in use after a wrap-around.
	var pid uint32
	for {
		pid = s.nextPID.Add(1)
		if _, used := s.mu.conns[pid]; pid != 0 && !used {
			break
		}
	}
	c := newConn(s, nc, pid, secret)
	s.mu.conns[pid] = c
	s.newConns.Add(1)
	s.wg.Add(1)
	go s.runConn(c)
	return true
}

func (s *Server) runConn(c *conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.mu.conns, c.pid)
		s.mu.Unlock()
		c.cancel(errClientGone)
		_ = c.nc.Close()
	}()
	// The deadline is set on the TCP connection, under TLS, so it bounds
	// the TLS handshake too.
	_ = c.raw.SetDeadline(time.Now().Add(s.cfg.StartupTimeout))
	if !c.handshake() {
		return
	}
	_ = c.raw.SetDeadline(time.Time{})
	c.serve()
}

// cancelRequest handles a CancelRequest packet body (code, process id,
// secret key): the matching connection's running statement is cancelled.
// Keys are compared in constant time.
func (s *Server) cancelRequest(body []byte) {
	if len(body) < 12 {
		return
	}
	pid := binary.BigEndian.Uint32(body[4:])
	secret := body[8:]
	s.mu.Lock()
	c := s.mu.conns[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(secret, c.secret[:]) != 1 {
		return
	}
	c.cancelQuery()
}

// NumConns returns the number of open connections.
func (s *Server) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}

// Draining reports whether Drain or Close has been called.
func (s *Server) Draining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.draining
}

// stopAccepting closes the listeners and marks the server draining.
func (s *Server) stopAccepting() {
	s.mu.Lock()
	s.mu.draining = true
	s.draining.Store(true)
	for ln := range s.mu.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()
	s.drainOnce.Do(func() {
		close(s.drainCh)
		s.drainStop()
	})
}

// Drain stops accepting connections and closes each open connection as
// soon as it is idle (after the ReadyForQuery that ends its current
// statement or batch), sending 57P01 like a PostgreSQL shutdown. A
// statement whose result never ends by itself (a replication stream, see
// drainEnder) is cancelled at once with 57P01 instead: waiting for it
// would always cost the whole drain timeout. It
// returns when no connection is left, or ctx's error when ctx ends first;
// Close then stops the rest.
func (s *Server) Drain(ctx context.Context) error {
	s.stopAccepting()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for s.NumConns() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
	return nil
}

// closeGrace is how long Close lets cancelled connections send their
// final error before their sockets are closed under them.
const closeGrace = time.Second

// Close stops the server now: listeners are closed, running statements
// are cancelled (clients get 57P01), and after a short grace every
// socket is closed. It returns when every connection goroutine has ended.
func (s *Server) Close() {
	s.stopAccepting()
	s.cancel(errAdminShutdown)
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(closeGrace):
	}
	s.mu.Lock()
	for _, c := range s.mu.conns {
		// raw, not nc: nc changes to the TLS connection during the
		// handshake, on the connection's goroutine. Closing the TCP
		// connection ends the TLS one as well.
		_ = c.raw.Close()
	}
	s.mu.Unlock()
	<-done
}
