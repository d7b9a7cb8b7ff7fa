package livetree

// Stats is what the web client's diagnostics hook, window.ternTreeStats()
// (see wasm/ui's TreePage), reports as JSON: the tree's size and the Go
// heap after a collection. The browser tests of web/e2e read it.
type Stats struct {
	Topics        int     `json:"topics"`
	Nodes         int     `json:"nodes"`
	Messages      uint64  `json:"messages"`
	Dropped       uint64  `json:"dropped"`
	Rate          float64 `json:"rate"`
	HistoryValues int     `json:"historyValues"`
	HistoryBytes  int     `json:"historyBytes"`
	HeapAlloc     uint64  `json:"heapAlloc"`
	HeapSys       uint64  `json:"heapSys"`
	Sys           uint64  `json:"sys"`
	Has           bool    `json:"has,omitempty"` // the topic asked about has a value
}
