package ui

// The topic tree (tree*.go) and the chat rooms (chat*.go) are two pages
// added to the client's Pages. They share the Hub's model for what the
// page already knows (the connection form: broker URL, protocol and
// credentials; the publish form's Draft, which a click in the tree fills),
// and otherwise keep their own state holders, MQTT connections and go-app
// state keys, so that they add nothing to the Hub itself:
//
//   - treeHub (treehub.go) owns a livetree.Tree and a chart, and an MQTT
//     service of its own (wasm/service) subscribed to "#", which follows
//     the page's connection: it starts when the page is connected and the
//     tree page is open, and stops when the page disconnects;
//   - chatHub (chathub.go) owns a chat.State, a clean connection for the
//     rooms' presence, and a persistent one per joined room (wasm/chat).
//
// Both are created on first use, one per Hub, and used on the UI
// goroutine; their services hand over batched updates with one Dispatch
// per batch, like the Hub's.

import (
	"sync"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// The paths of the part 2 pages.
const (
	PathTree = "/tree"
	PathChat = "/chat"
)

// part2Pages are the pages added to Pages.
var part2Pages = []Page{
	{Path: PathTree, Title: "Topic tree", Key: "t", New: func(h *Hub) app.UI { return &TreePage{Hub: h} }},
	{Path: PathChat, Title: "Chat", Key: "h", New: func(h *Hub) app.UI { return &ChatPage{Hub: h} }},
	{Path: PathBroker, Title: "Broker", Key: "b", New: func(h *Hub) app.UI { return &BrokerPage{Hub: h} }}, // broker.go
}

// The part 2 pages follow part 1's in the tabs. Package variables are
// initialized before init runs, so Pages holds part 1's pages here.
func init() { Pages = append(Pages, part2Pages...) }

// part2 is a Hub's topic tree and chat.
type part2 struct {
	tree *treeHub
	chat *chatHub
}

var (
	part2Mu sync.Mutex
	part2Of = map[*Hub]*part2{}
)

// extras returns the Hub's topic tree and chat holders, creating them on
// first use.
func (h *Hub) extras() *part2 {
	part2Mu.Lock()
	defer part2Mu.Unlock()
	x := part2Of[h]
	if x == nil {
		x = &part2{tree: newTreeHub(h), chat: newChatHub(h)}
		part2Of[h] = x
	}
	return x
}

// observeKey makes the component update when the go-app state key is set,
// calling onChange first (on the UI goroutine) when it is not nil.
func observeKey(ctx app.Context, key string, onChange func()) {
	var rev int
	o := ctx.ObserveState(key)
	if onChange != nil {
		o = o.OnChange(onChange)
	}
	o.Value(&rev)
}

// revs counts the changes announced under each state key.
type revs map[string]int

// bump tells the components observing key that it changed (a nil ctx,
// from postTo without a page, only counts).
func (r revs) bump(ctx app.Context, key string) {
	r[key]++
	if ctx != nil {
		ctx.SetState(key, r[key])
	}
}

// postTo runs fn on the UI goroutine with one Dispatch (from any
// goroutine). Before the page has a dispatcher (server-side rendering,
// tests) it runs fn at once with a nil context.
func postTo(h *Hub, fn func(ctx app.Context)) {
	if h.disp == nil {
		fn(nil)
		return
	}
	h.disp.Dispatch(app.Dispatch{Mode: app.Update, Function: fn})
}
