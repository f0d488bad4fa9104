package e2e

import (
	"io"
	"net"
	"sync"

	"github.com/cockroachdb/errors"
)

// tcpProxy forwards connections from its own 127.0.0.1 port to a target
// address, and can cut them: cut closes every open connection and makes
// new ones fail at once (accepted, then closed) until restore. The
// standby reaches the primary through it when a scenario asks for it, so
// the test can break the stream the way a network failure would, without
// touching either process.
//
// Goroutines: one accept loop, and two copy goroutines per forwarded
// connection; close ends and waits for all of them.
type tcpProxy struct {
	target string
	l      net.Listener
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		cut    bool
		closed bool
		conns  map[net.Conn]struct{}
		// accepted counts forwarded connections, refused the ones
		// dropped while cut.
		accepted, refused int
	}
}

func newTCPProxy(target string) (*tcpProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, errors.Wrap(err, "proxy listen")
	}
	p := &tcpProxy{target: target, l: l}
	p.mu.conns = map[net.Conn]struct{}{}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

func (p *tcpProxy) addr() string { return p.l.Addr().String() }

func (p *tcpProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.mu.cut || p.mu.closed {
			p.mu.refused++
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.mu.accepted++
		p.mu.Unlock()
		// Dial outside the lock: a slow target must not stall cut.
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(c, up) {
			_ = c.Close()
			_ = up.Close()
			continue
		}
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// track registers a forwarded pair unless a cut or close happened while
// dialing.
func (p *tcpProxy) track(a, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.cut || p.mu.closed {
		return false
	}
	p.mu.conns[a] = struct{}{}
	p.mu.conns[b] = struct{}{}
	return true
}

// pipe copies one direction; when it ends it closes both ends, so the
// other direction ends too.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.mu.conns, dst)
	delete(p.mu.conns, src)
	p.mu.Unlock()
}

// cut closes every forwarded connection and refuses new ones.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut = true
	p.closeConnsLocked()
}

// restore forwards new connections again.
func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.cut = false
}

func (p *tcpProxy) closeConnsLocked() {
	for c := range p.mu.conns {
		_ = c.Close()
	}
}

// counts returns the forwarded and refused connection counts.
func (p *tcpProxy) counts() (accepted, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.accepted, p.mu.refused
}

// close stops the proxy and waits for its goroutines.
func (p *tcpProxy) close() {
	p.mu.Lock()
	p.mu.closed = true
	p.closeConnsLocked()
	p.mu.Unlock()
	_ = p.l.Close()
	p.wg.Wait()
}
