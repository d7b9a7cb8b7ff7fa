package passwd

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// Options configure a File.
type Options struct {
	// AllowAnonymous accepts a CONNECT without a username. A username
	// that is not in the file is refused whatever this says.
	AllowAnonymous bool
	// Logger receives the warning about a file that group or others may
	// access (at Load and at each Reload). Nil logs to slog.Default().
	// Reload itself logs nothing: its caller reports the Change or error.
	Logger *slog.Logger
	// Workers bounds how many hashes are verified at once (each $7$ or
	// Argon2id verification holds a CPU for its whole run). Zero means
	// GOMAXPROCS.
	Workers int
}

// File is a broker.Authenticator backed by a Mosquitto-format password
// file. Load it with Load; Reload re-reads it. It is safe for concurrent
// use.
//
// Authenticate refuses an unknown username or a wrong password with
// codec.BadUserNameOrPassword (3.1.1: 0x04) and a CONNECT without a
// username, unless Options.AllowAnonymous, with codec.NotAuthorized
// (3.1.1: 0x05), as Mosquitto does. Verification runs on a bounded pool
// of Options.Workers; a password that verified once is remembered (as a
// keyed SHA-256, never in clear) until the next successful Reload; and
// failures from one IP address (an IPv6 /64) slow down that address's
// next attempts exponentially, up to 2 s, forgetting one failure per
// 10 s.
type File struct {
	path     string
	opts     Options
	log      *slog.Logger
	sem      chan struct{}
	throttle *throttle
	cacheKey []byte
	dummy    *Hash // an empty file's table.dummy

	reload sync.Mutex // serialises Reload
	table  atomic.Pointer[table]
}

// table is one loaded version of the file with its cache of verified
// passwords; a Reload swaps in a new table, dropping the cache.
type table struct {
	users map[string]*Hash
	// dummy is verified, and its result ignored, for unknown users, so
	// that they take as long as a user of this file: the first user's
	// hash (or a default $7$ hash for an empty file).
	dummy   *Hash
	fakeKey []byte // derives the SCRAM salts of users without SCRAM credentials

	mu    sync.Mutex
	cache map[string][sha256.Size]byte // user -> HMAC-SHA256(cacheKey, password)
}

// Load reads the password file at path (following symlinks) and returns
// its Authenticator. A file that group or others may access is loaded,
// with a warning logged. A file that does not parse is an error that
// names the path and the line.
func Load(path string, opts Options) (*File, error) {
	f := &File{
		path:     path,
		opts:     opts,
		log:      opts.Logger,
		throttle: newThrottle(throttleEntries),
		cacheKey: make([]byte, 32),
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	n := opts.Workers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	f.sem = make(chan struct{}, n)
	rand.Read(f.cacheKey)
	d, err := NewHash([]byte("dummy"), HashOptions{})
	if err != nil {
		return nil, err
	}
	f.dummy = d
	t, err := f.read()
	if err != nil {
		return nil, err
	}
	f.table.Store(t)
	return f, nil
}

// read loads and parses the file, warning when its permissions are loose.
func (f *File) read() (*table, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("password file: %w", err)
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		f.log.Warn("password file is accessible by group or others; chmod 600 it",
			"path", f.path, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()))
	}
	entries, err := Parse(io.LimitReader(fh, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("password file %s: %w", f.path, err)
	}
	t := &table{users: make(map[string]*Hash, len(entries)), cache: make(map[string][sha256.Size]byte)}
	fake := sha256.New()
	fake.Write([]byte("tern scram fake salt\n"))
	for _, e := range entries {
		t.users[e.User] = e.Hash
		fake.Write([]byte(e.User + ":" + e.Hash.String() + "\n"))
	}
	t.dummy = f.dummy
	if len(entries) > 0 {
		t.dummy = entries[0].Hash
	}
	t.fakeKey = fake.Sum(nil)
	return t, nil
}

// Change summarises what a Reload changed, by username, each list sorted.
type Change struct {
	Added, Removed, Changed []string
}

// String summarises c in counts, e.g. "1 added, 0 removed, 2 changed".
func (c Change) String() string {
	return fmt.Sprintf("%d added, %d removed, %d changed", len(c.Added), len(c.Removed), len(c.Changed))
}

// Reload re-reads the file and, if it parses, puts it in force at once:
// logins that start afterwards see the new contents, and remembered
// passwords are forgotten. If it does not parse (or cannot be read), the
// error is returned and the contents loaded before stay in force.
//
// Sessions already connected are not affected; to drop users who were
// removed, the caller may disconnect them (the Change lists who).
func (f *File) Reload() (Change, error) {
	f.reload.Lock()
	defer f.reload.Unlock()
	t, err := f.read()
	if err != nil {
		return Change{}, err
	}
	old := f.table.Swap(t)
	var c Change
	for u, h := range t.users {
		switch oh := old.users[u]; {
		case oh == nil:
			c.Added = append(c.Added, u)
		case oh.String() != h.String():
			c.Changed = append(c.Changed, u)
		}
	}
	for u := range old.users {
		if t.users[u] == nil {
			c.Removed = append(c.Removed, u)
		}
	}
	slices.Sort(c.Added)
	slices.Sort(c.Removed)
	slices.Sort(c.Changed)
	return c, nil
}

// Len reports how many users the file in force has.
func (f *File) Len() int { return len(f.table.Load().users) }

// Path returns the path the file was loaded from.
func (f *File) Path() string { return f.path }

// Authenticate implements broker.Authenticator.
func (f *File) Authenticate(ctx context.Context, l *broker.Login) codec.ReasonCode {
	c := l.Connect
	if c.Username == "" && !c.HasUsername {
		if f.opts.AllowAnonymous {
			return codec.Success
		}
		return codec.NotAuthorized
	}
	ip, keyed := key(l.Remote)
	if keyed {
		if err := wait(ctx, f.throttle.delay(ip, time.Now())); err != nil {
			return codec.UnspecifiedError // the connection is gone
		}
	}
	t := f.table.Load()
	h := t.users[c.Username]
	password := c.Password
	if password != nil && t.cached(c.Username, f.mac(password)) {
		if keyed {
			f.throttle.succeed(ip)
		}
		return codec.Success
	}
	ok, err := f.verify(ctx, h, t.dummy, password)
	if err != nil {
		return codec.UnspecifiedError
	}
	// A missing password never matches, even the hash of "".
	ok = ok && h != nil && password != nil
	if !ok {
		if keyed {
			f.throttle.fail(ip, time.Now())
		}
		return codec.BadUserNameOrPassword
	}
	if keyed {
		f.throttle.succeed(ip)
	}
	t.remember(c.Username, f.mac(password))
	return codec.Success
}

// verify runs h.Verify on the worker pool, or, when h is nil (an unknown
// user), dummy.Verify with its result ignored, so that an unknown user
// costs what a known one does.
func (f *File) verify(ctx context.Context, h, dummy *Hash, password []byte) (bool, error) {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-f.sem }()
	if h == nil {
		dummy.Verify(password)
		return false, nil
	}
	return h.Verify(password), nil
}

// mac is the cache's fingerprint of a password: HMAC-SHA256 under a key
// that lives only in this process.
func (f *File) mac(password []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, f.cacheKey)
	m.Write(password)
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

func (t *table) cached(user string, mac [sha256.Size]byte) bool {
	t.mu.Lock()
	got, ok := t.cache[user]
	t.mu.Unlock()
	return ok && subtle.ConstantTimeCompare(got[:], mac[:]) == 1
}

// remember caches a verified password; the cache holds at most one entry
// per user of the file, so it is bounded by the file's size.
func (t *table) remember(user string, mac [sha256.Size]byte) {
	if _, ok := t.users[user]; !ok {
		return
	}
	t.mu.Lock()
	t.cache[user] = mac
	t.mu.Unlock()
}

var _ broker.EnhancedAuthenticator = (*File)(nil)
