package client

// SetNextPacketID makes id the next packet identifier the client tries for
// a new SUBSCRIBE, UNSUBSCRIBE or QoS 1 or 2 PUBLISH, so that a test
// reaches identifiers in use, and the end of the 16-bit space, without
// 65535 operations. Identifiers in use are still skipped.
func SetNextPacketID(c *Client, id uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.nextID = id - 1
}
