// Command tern will run the Tern MQTT broker and serve its web client.
// For now it is a placeholder that only says so.
package main

import "log/slog"

func main() {
	slog.Info("tern broker not yet implemented")
}
