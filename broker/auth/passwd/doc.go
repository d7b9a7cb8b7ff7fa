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
// Load a file with Load and give the *File to the broker as its
// Authenticator; call Reload (on SIGHUP, say) to re-read it. The command
// "tern passwd" edits files the way mosquitto_passwd does.
package passwd
