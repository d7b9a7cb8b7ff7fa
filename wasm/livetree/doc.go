// Package livetree is the state of the web client's topic tree: every
// topic the page has seen (it subscribes to "#"), one node per topic
// level, with message counts, the last value, whether the broker holds a
// retained message there, a bounded history of recent values, and the
// view state that goes with it (which nodes are expanded, the search, the
// selected node and keyboard navigation over the rows on screen).
//
// It also holds what the detail pane and the chart need: a diff of a value
// against the previous one, numbers read from a payload (the whole payload,
// or a number inside JSON chosen by a path such as "sensors.0.temp"), and
// a Chart of several numeric series drawn as SVG.
//
// The package is plain Go with no browser code. It builds for GOOS=js and
// is tested natively; the go-app components only render it.
//
// # Scale
//
// The tree is built for 50,000 topics and thousands of messages per
// second (see the benchmarks). A message on a known topic is one map
// lookup and a walk up its ancestors to update counts. Memory is bounded:
// at most Options.MaxTopics nodes, and the older values of all topics
// together are bounded in number (Options.MaxHistory) and bytes
// (Options.MaxHistoryBytes), dropped oldest first, so a busy topic cannot
// starve the rest of memory; each topic always keeps its last value. Rows
// for display and search results are computed only when the structure or
// the query changes, not on every message.
//
// # Retained messages
//
// A node is marked retained when a message with the RETAIN flag arrives on
// it: retained messages are sent with the flag when the page subscribes,
// and, with an MQTT 5.0 subscription with Retain As Published, live
// retained publishes keep it too. An empty retained message (what clearing
// a retained message publishes) removes the topic's value; a topic with no
// value and no children leaves the tree. Without Retain As Published (MQTT
// 3.1.1) live messages arrive without the flag, so the tree also treats an
// empty payload on a topic marked retained as clearing it.
package livetree
