package e2e

import (
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ternmq/tern/broker/auth/passwd"
	"github.com/ternmq/tern/internal/testkit/userkit"
)

// TestBrowserSCRAM logs the web UI in with SCRAM-SHA-256 over ws:// to a
// broker whose password file has a $scram-sha-256$ entry, checks that the
// password is in none of the bytes the browser sent (the WebSocket frames
// unmasked, as the server reads them), then that a wrong password is
// refused and the UI says so.
func TestBrowserSCRAM(t *testing.T) {
	const user, password = "alice", "Corr3ct-h0rse-battery"
	dir := clientBuild(t)

	users := userkit.PasswordFile(t, passwd.HashOptions{Algorithm: passwd.SCRAMSHA256, Iterations: 4096}, user, password)
	rec := &recorder{}
	s := newSiteWith(t, dir, siteOptions{Authenticator: users, Listener: rec.wrap})
	p := newPage(t, s)
	p.open("/connection")

	login := func(p *page, pw string) {
		p.t.Helper()
		p.setValue("conn-username", user)
		p.setValue("conn-password", pw)
		p.setValue("conn-auth", "scram-sha-256")
		p.click("#conn-connect")
	}

	t.Run("login", func(t *testing.T) {
		p := p.in(t)
		login(p, password)
		p.do("connected", 30*time.Second, chromedp.WaitVisible(chromedp.CSS("#conn-status.state-ok")))
		if got := p.text("conn-status-text"); got != "Connected" {
			t.Errorf("status %q", got)
		}
		sent := rec.webSocketPayloads(t)
		// The capture works: the SCRAM messages are there in clear.
		for _, want := range []string{"SCRAM-SHA-256", "n,,n=" + user + ",r=", "c=biws,r="} {
			if !bytes.Contains(sent, []byte(want)) {
				t.Errorf("the browser's WebSocket frames lack %q: the capture is broken (%d bytes)", want, len(sent))
			}
		}
		if bytes.Contains(sent, []byte(password)) {
			t.Error("the password is in the WebSocket frames the browser sent")
		}
		if bytes.Contains(rec.raw(), []byte(password)) {
			t.Error("the password is in the bytes the browser sent")
		}
		p.click("#conn-disconnect")
		p.do("disconnected", 15*time.Second, chromedp.WaitVisible(chromedp.ID("conn-connect")))
	})

	t.Run("wrong password", func(t *testing.T) {
		p := p.in(t)
		login(p, "not-"+password)
		p.do("refused", 30*time.Second, chromedp.WaitVisible(chromedp.ID("conn-hints")))
		hints := p.text("conn-hints")
		if !strings.Contains(hints, "Not authorized") && !strings.Contains(hints, "does not allow this client") {
			t.Errorf("hints do not show the refusal:\n%s", hints)
		}
		if got := p.text("conn-status-text"); got != "Failed" {
			t.Errorf("status %q, want Failed", got)
		}
		if bytes.Contains(rec.webSocketPayloads(t), []byte(password)) {
			t.Error("the wrong password is in the WebSocket frames the browser sent")
		}
	})
}

// recorder keeps every byte the server's connections read.
type recorder struct {
	mu    sync.Mutex
	conns []*bytes.Buffer
}

func (r *recorder) wrap(l net.Listener) net.Listener { return &recListener{Listener: l, r: r} }

type recListener struct {
	net.Listener
	r *recorder
}

func (l *recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	b := &bytes.Buffer{}
	l.r.mu.Lock()
	l.r.conns = append(l.r.conns, b)
	l.r.mu.Unlock()
	return &recConn{Conn: c, r: l.r, b: b}, nil
}

type recConn struct {
	net.Conn
	r *recorder
	b *bytes.Buffer
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.mu.Lock()
	c.b.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

// raw returns everything read, all connections joined.
func (r *recorder) raw() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []byte
	for _, b := range r.conns {
		all = append(all, b.Bytes()...)
	}
	return all
}

// webSocketPayloads returns the unmasked payloads of the frames the
// browser sent on its MQTT WebSocket connections.
func (r *recorder) webSocketPayloads(t *testing.T) []byte {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []byte
	for _, b := range r.conns {
		data := b.Bytes()
		if !bytes.HasPrefix(data, []byte("GET /mqtt ")) {
			continue
		}
		end := bytes.Index(data, []byte("\r\n\r\n"))
		if end < 0 {
			t.Fatal("a WebSocket handshake without its end")
		}
		frames := data[end+4:]
		for len(frames) >= 2 {
			masked, n := frames[1]&0x80 != 0, uint64(frames[1]&0x7f)
			ext := map[uint64]int{126: 2, 127: 8}[n]
			if len(frames) < 2+ext+4 {
				break // the connection was read in the middle of a frame header
			}
			i := 2
			switch n {
			case 126:
				n, i = uint64(binary.BigEndian.Uint16(frames[2:])), 4
			case 127:
				n, i = binary.BigEndian.Uint64(frames[2:]), 10
			}
			if !masked {
				t.Fatal("a browser frame without a mask")
			}
			key := frames[i : i+4]
			i += 4
			if uint64(len(frames)-i) < n {
				break // the connection was read in the middle of a frame
			}
			payload := frames[i : i+int(n)]
			for j := range payload {
				out = append(out, payload[j]^key[j%4])
			}
			frames = frames[i+int(n):]
		}
	}
	return out
}
