package main

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/ternmq/tern/codec"
)

// peer is a minimal MQTT client over TCP for the crash tests: it sends
// what it is given and delivers what it reads on in, which is closed when
// the connection ends (for instance when tern is killed).
type peer struct {
	nc   net.Conn
	v    codec.Version
	in   chan codec.Packet
	quit chan struct{} // closed by close: the reader stops
	once sync.Once
	wmu  sync.Mutex
}

// dialPeer connects and sends c; it returns the CONNACK.
func dialPeer(addr string, c *codec.Connect) (*peer, *codec.Connack, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	p := &peer{nc: nc, v: c.Version, in: make(chan codec.Packet, 64), quit: make(chan struct{})}
	if err := p.send(c); err != nil {
		nc.Close()
		return nil, nil, err
	}
	go p.read()
	select {
	case pkt, ok := <-p.in:
		ack, isAck := pkt.(*codec.Connack)
		if !ok || !isAck || ack.ReasonCode != codec.Success {
			nc.Close()
			return nil, nil, fmt.Errorf("connect %s: got %v", c.ClientID, pkt)
		}
		return p, ack, nil
	case <-time.After(30 * time.Second):
		p.close()
		return nil, nil, fmt.Errorf("connect %s: no CONNACK", c.ClientID)
	}
}

func (p *peer) read() {
	defer close(p.in)
	r := codec.NewReader(p.nc, 0)
	r.SetVersion(p.v)
	for {
		pkt, err := r.ReadPacket()
		if err != nil {
			return
		}
		select {
		case p.in <- detach(pkt):
		case <-p.quit:
			return
		}
	}
}

// detach copies a packet out of the reader's buffers, which the next read
// reuses.
func detach(pkt codec.Packet) codec.Packet {
	switch p := pkt.(type) {
	case *codec.Publish:
		c := *p
		c.Topic, c.Payload = strings.Clone(p.Topic), bytes.Clone(p.Payload)
		c.Properties = codec.Properties{}
		return &c
	case *codec.Puback:
		c := *p
		return &c
	case *codec.Pubrec:
		c := *p
		return &c
	case *codec.Pubrel:
		c := *p
		return &c
	case *codec.Pubcomp:
		c := *p
		return &c
	}
	return pkt
}

func (p *peer) send(pkts ...codec.Packet) error {
	var b []byte
	for _, pkt := range pkts {
		var err error
		if b, err = pkt.Append(b, p.v); err != nil {
			return err
		}
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.nc.Write(b)
	return err
}

func (p *peer) close() {
	p.once.Do(func() { close(p.quit) })
	p.nc.Close()
}

// ack builds the acknowledgement of type t for pid.
func ack(t codec.PacketType, pid uint16) codec.Packet {
	a := codec.Ack{PacketID: pid}
	switch t {
	case codec.PUBACK:
		return &codec.Puback{Ack: a}
	case codec.PUBREC:
		return &codec.Pubrec{Ack: a}
	case codec.PUBREL:
		return &codec.Pubrel{Ack: a}
	default:
		return &codec.Pubcomp{Ack: a}
	}
}
