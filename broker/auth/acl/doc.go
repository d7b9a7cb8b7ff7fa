// Package acl is a broker.Authorizer that reads Mosquitto's acl_file
// format, so a file written for Mosquitto 2.0 works unchanged and grants
// or denies the same publishes and deliveries.
//
// # File format
//
// One entry a line; the keywords are lower case and separated by spaces
// (a tab does not separate tokens, as in Mosquitto):
//
//	# a comment: only when '#' is the line's first character
//	topic [read|write|readwrite|deny] FILTER
//	user NAME
//	pattern [read|write|readwrite|deny] FILTER
//
// Without an access word the entry grants readwrite; a FILTER that
// contains spaces needs the access word, and is then everything after it
// (leading and trailing blanks trimmed). FILTER is an MQTT Topic Filter:
// '+' and '#' must fill a whole level and '#' must be last. Blank lines
// are skipped; anything else is an error reported with its line number
// (*ParseError).
//
// topic entries before the first user line belong to anonymous clients
// (those without a username). After "user NAME" they belong to the client
// whose username is NAME; sections of the same name merge. pattern
// entries apply to every client wherever they appear, with "%c" replaced
// by the client identifier and "%u" by the username (a pattern using %u
// never applies to an anonymous client). As in Mosquitto the replacement
// happens wherever %c or %u occurs in the filter, and a pattern without
// either is a plain filter shared by all clients.
//
// # Decisions (Read and Write)
//
// The rules for one client form two lists checked in order: first its own
// list (the section of its username, or the anonymous section), then the
// patterns. Within each list the deny entries come first. The first entry
// whose filter matches the topic decides: a deny entry denies, an entry
// that grants the access asked for allows, and an entry that matches but
// grants only the other access is passed over. If nothing decides, access
// is denied; so is everything for a client that has neither a section nor
// any pattern, and an empty file denies everything.
//
// A filter matches as a subscription would, with one rule for '$' topics:
// a filter whose first level is a wildcard ("#", "+/x") never matches a
// topic starting with '$'; only an entry such as "$SYS/#" grants those.
//
// When the file has patterns and the client identifier or username
// contains '+' or '#' the pattern list denies without being looked at
// (the substitution would let such a client inject wildcards); the
// client's own section is still consulted first, as in Mosquitto.
//
// Read is checked for every delivery of a message (retained ones
// included), Write for every PUBLISH and will. The broker's own rule that
// clients never publish to $SYS runs before the ACL.
//
// # Subscribe
//
// Mosquitto's acl_file does not check SUBSCRIBE at all: its default ACL
// check returns success for MOSQ_ACL_SUBSCRIBE ("FIXME - implement ACL
// subscription strings" in src/security_default.c, still so in 2.0.20
// and on the develop branch) and filters only the deliveries. The
// wildcard-aware comparison of a subscription filter with an ACL filter
// (sub_acl_check, later mosquitto_sub_matches_acl) exists only for the
// dynamic-security plugin's subscribe ACLs.
//
// Tern refuses a subscription whose filter can never deliver anything to
// the client and grants every other one; deliveries are then checked one
// by one with Read as Mosquitto does. A filter F is refused when, walking
// the client's Read list in the order above, a deny entry that covers F
// (every topic F matches also matches the entry) comes before any entry
// granting read whose filter overlaps F (some topic matches both), or when
// no granting entry overlaps F at all. The $ rule applies to both
// comparisons. The test is conservative: it never refuses a filter through
// which Mosquitto would deliver a message, so the messages a client gets
// are the same as with Mosquitto; only the SUBACK differs (Mosquitto
// grants a subscription that then stays silent, Tern refuses it).
//
// # Concurrency and reloading
//
// An *ACL is safe for concurrent use. Reload reads the file again and
// swaps the compiled rules in atomically; if the new file is invalid the
// old rules stay. Authorize does not allocate: topic entries are
// precompiled per username, and patterns are expanded into a buffer on
// the stack.
package acl
