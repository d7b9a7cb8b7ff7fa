// Package passwd reads, writes and checks password files in Mosquitto's
// format, and authenticates MQTT CONNECTs against them as a
// broker.Authenticator.
//
// A password file has one "user:hash" line per user; lines starting with
// '#' and blank lines are ignored. The hashes are those of Mosquitto:
//
//	$6$<salt>$<hash>                    SHA-512 over password‖salt (Mosquitto ≤ 1.6; read only)
//	$7$<iterations>$<salt>$<hash>       PBKDF2-HMAC-SHA512, 64-byte key (Mosquitto 2.0, 2.1)
//	$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>   Argon2id PHC string (Mosquitto 2.1)
//
// with salts and hashes in standard base64. Tern writes $7$ with a
// 12-byte salt and 101 iterations by default, as Mosquitto 2.0's
// mosquitto_passwd does, so that both Mosquitto 2.0 and 2.1 read its
// files; Argon2id is there for those who only run Mosquitto 2.1 or Tern.
//
// Tern adds one hash of its own, for MQTT 5.0 enhanced authentication
// with SCRAM-SHA-256 (RFC 5802, RFC 7677; Authentication Method
// "SCRAM-SHA-256", no channel binding):
//
//	$scram-sha-256$<iterations>$<salt>$<StoredKey>$<ServerKey>
//
// in standard base64 with padding, where SaltedPassword =
// PBKDF2-HMAC-SHA256(password, salt, iterations, 32 bytes), ClientKey =
// HMAC-SHA256(SaltedPassword, "Client Key"), StoredKey =
// SHA-256(ClientKey) and ServerKey = HMAC-SHA256(SaltedPassword, "Server
// Key"). "tern passwd -H scram-sha-256" writes it with a 16-byte salt and
// 4096 iterations (the least RFC 7677 allows and the Tern client accepts;
// -I raises it). Such a user logs in with SCRAM, so that the password
// never crosses the network, or with a plain CONNECT password, which is
// checked against StoredKey. The file holds no password and nothing that
// logs in as the user directly, but StoredKey and ServerKey let whoever
// reads the file impersonate the server to that user and guess the
// password offline, so keep it as private as any password file. Mosquitto
// does not read these lines.
//
// A File is a broker.EnhancedAuthenticator for "SCRAM-SHA-256": users
// whose entry is another hash, and names not in the file, are answered
// with a salt derived from a digest of the file and the name (so the
// exchange does not reveal who exists, RFC 5802 section 9) and then
// refused with 0x87 Not authorized. A connection that logged in with
// SCRAM stays valid for Server.Reauthorize until its user's entry changes
// or goes. Names and passwords are used as bytes, without SASLprep.
//
// Load a file with Load and give the *File to the broker as its
// Authenticator; call Reload (on SIGHUP, say) to re-read it. The command
// "tern passwd" edits files the way mosquitto_passwd does.
package passwd
