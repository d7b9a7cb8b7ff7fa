package uistate

import "testing"

func TestAdminOrigin(t *testing.T) {
	tests := []struct {
		name, dial, page, user, pass, want string
	}{
		{"same origin", "ws://127.0.0.1:8080/mqtt", "http://127.0.0.1:8080/tree", "u", "p", "http://127.0.0.1:8080"},
		{"tls default port", "wss://example.org/mqtt", "https://example.org:443/", "u", "p", "https://example.org:443"},
		{"no password", "ws://127.0.0.1:8080/mqtt", "http://127.0.0.1:8080/", "u", "", ""},
		{"no username", "ws://127.0.0.1:8080/mqtt", "http://127.0.0.1:8080/", "", "p", ""},
		{"other port", "ws://127.0.0.1:9001/mqtt", "http://127.0.0.1:8080/", "u", "p", ""},
		{"other host", "ws://broker.example:8080/mqtt", "http://127.0.0.1:8080/", "u", "p", ""},
		{"tls mismatch", "wss://127.0.0.1:8080/mqtt", "http://127.0.0.1:8080/", "u", "p", ""},
		{"bad url", "ws://[::1/mqtt", "http://127.0.0.1:8080/", "u", "p", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AdminOrigin(tt.dial, tt.page, tt.user, tt.pass); got != tt.want {
				t.Errorf("AdminOrigin(%q, %q) = %q, want %q", tt.dial, tt.page, got, tt.want)
			}
		})
	}
}
