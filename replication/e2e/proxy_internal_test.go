package e2e

import (
	"bufio"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/crlib/testutils/leaktest"
)

// TestTCPProxy checks the fault injector itself: it forwards both ways,
// a cut ends open connections and refuses new ones, and restore forwards
// again.
func TestTCPProxy(t *testing.T) {
	defer leaktest.AfterTest(t)()
	// An echo server that returns each line.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer l.Close()
	var mu sync.Mutex
	var served []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range served {
			_ = c.Close()
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			served = append(served, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
			}()
		}
	}()

	p, err := newTCPProxy(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()

	echo := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && line != "ping\n" {
			t.Fatalf("echo returned %q", line)
		}
		return err
	}
	c1, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if err := echo(c1); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	p.cut()
	if err := echo(c1); err == nil {
		t.Fatal("a connection open before the cut still works after it")
	}
	c2, err := net.Dial("tcp", p.addr())
	if err == nil {
		err = echo(c2)
		_ = c2.Close()
	}
	if err == nil {
		t.Fatal("a new connection works during the cut")
	}
	if _, refused := p.counts(); refused != 1 {
		t.Fatalf("refused %d connections during the cut, want 1", refused)
	}

	p.restore()
	c3, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := echo(c3); err != nil {
		t.Fatalf("after restore: %v", err)
	}
}
