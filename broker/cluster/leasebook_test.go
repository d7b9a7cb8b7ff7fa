package cluster

import (
	"slices"
	"testing"
	"time"
)

// TestLeaseBook follows the lease bookkeeping of watchLeases: a node
// lapses once its lease is older than leaseTTL+leaseRenew and is then
// handed to reap once; one that left in order never lapses; a reap that
// must be tried again puts the node back, to lapse again a little over a
// renewal later, unless its lease is renewed first.
func TestLeaseBook(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	b := make(leaseBook)
	b.update("n1", true, t0)
	b.update("n2", true, t0)
	b.update("n3", true, t0)
	b.update("n3", false, t0.Add(time.Second)) // left in order
	if got := b.lapsed(t0.Add(leaseTTL + leaseRenew)); len(got) != 0 {
		t.Fatalf("lapsed at exactly leaseTTL+leaseRenew: %v, want none", got)
	}
	b.update("n2", true, t0.Add(leaseTTL)) // renewed
	late := t0.Add(leaseTTL + leaseRenew + time.Millisecond)
	if got := b.lapsed(late); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("lapsed: %v, want [n1]", got)
	}
	if got := b.lapsed(late.Add(time.Hour)); !slices.Equal(got, []string{"n2"}) {
		t.Fatalf("lapsed an hour later: %v, want [n2] (n1 is being reaped, n3 left)", got)
	}

	// n1's reap could not finish: it comes back.
	b.again("n1", late)
	if got := b.lapsed(late.Add(leaseRenew)); len(got) != 0 {
		t.Fatalf("lapsed one renewal after a failed reap: %v, want none yet", got)
	}
	if got := b.lapsed(late.Add(2 * leaseRenew)); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("lapsed two renewals after a failed reap: %v, want [n1] (tried again)", got)
	}

	// A failed reap of a node renewed meanwhile keeps the renewal.
	b.update("n1", true, late.Add(3*leaseRenew))
	b.again("n1", late.Add(3*leaseRenew))
	if got := b.lapsed(late.Add(4 * leaseRenew)); len(got) != 0 {
		t.Fatalf("a renewed node lapsed: %v", got)
	}
}
