package broker

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/broker/store/memory"
	"github.com/ternmq/tern/codec"
)

// TestRecoveredWaitForCluster: with a SessionCluster, the sessions Open
// reads from the store wait for the cluster's verdict before their wills
// are published: the will of a client connected when the broker died
// (due at once [MQTT-3.1.2-8 of 3.1.1]) and that of a session that
// expired while the broker was down [MQTT-5:3.1.2-8]. KeepRecovered
// publishes them and gives the cluster the session's record and
// deliveries; DropStale ends the local copy without its will and without
// SessionEnded.
func TestRecoveredWaitForCluster(t *testing.T) {
	for _, keep := range []bool{true, false} {
		name := map[bool]string{true: "keep", false: "drop"}[keep]
		inBubble(t, name, func(t *testing.T) {
			f := &faultStore{Store: memory.New()}
			srv := openPipeServer(t, f, &Options{Cluster: newFakeNode(false)})
			live := persistent(codec.V5, "live")
			live.Properties.SessionExpiryInterval = 600
			live.Will = will("will/live", "bye", 0)
			c, _ := pipeConnect(t, srv, codec.V5, live)
			c.Subscribe(t, 1, "rc/#")
			gone := persistent(codec.V5, "gone")
			gone.Properties.SessionExpiryInterval = 5
			gone.Will = will("will/gone", "bye too", 60)
			g, _ := pipeConnect(t, srv, codec.V5, gone)
			g.Close() // lost: its will waits for its delay
			synctest.Wait()

			fake := newFakeNode(false)
			srv, _ = crashFor(t, srv, f, &Options{Cluster: fake}, 10*time.Second)
			fake.srv = srv
			want := []RecoveredSession{{ClientID: "gone", Ended: true}, {ClientID: "live"}}
			if got := srv.Recovered(); !slices.Equal(got, want) {
				t.Fatalf("Recovered() = %v, want %v", got, want)
			}
			w := willWatcher(t, srv)
			synctest.Wait()
			w.ExpectIdle(t) // held until the verdict
			if keep {
				srv.KeepRecovered("live")
				srv.KeepRecovered("gone")
				w.ExpectMessage(t, "will/live", "bye")
				w.ExpectMessage(t, "will/gone", "bye too")
				if rec, ok := fake.changedFor("live"); !ok || rec.Will != nil || len(rec.Subs) != 1 {
					t.Errorf("SessionChanged got %+v (%v), want the kept session without its published will", rec, ok)
				}
			} else {
				srv.DropStale("live")
				srv.DropStale("gone")
				synctest.Wait()
				w.ExpectIdle(t)
				if slices.ContainsFunc(srv.Sessions(), func(s SessionInfo) bool { return s.ID == "live" }) {
					t.Error("the dropped session is still here")
				}
				if fake.wasEnded("live") {
					t.Error("SessionEnded for a session dropped as held elsewhere")
				}
				f.Store.Scan([]byte{store.KindSession}, func(k, _ []byte) error {
					if string(k[1:5]) == "live" {
						t.Errorf("key %q of the dropped session is still stored", k)
					}
					return nil
				})
			}
			if got := srv.Recovered(); len(got) != 0 {
				t.Errorf("Recovered() = %v after the verdicts, want none", got)
			}
		})
	}
}

// changedFor returns the last record SessionChanged was given for id.
func (f *fakeNode) changedFor(id string) (store.SessionRecord, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.changed[id]
	return rec, ok
}
