package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"github.com/ternmq/tern/broker/auth/passwd"
)

const passwdUsage = `tern passwd manages password files in Mosquitto's format (--password-file).

Usage:
  tern passwd [-H hash] [-I iterations] [-c | -D] passwordfile username
  tern passwd [-H hash] [-I iterations] [-c] -b passwordfile username password
  tern passwd [-H hash] [-I iterations] -U passwordfile

Without -b the password is read twice from standard input (without echo
on a terminal). With -c and -b, a passwordfile of - writes to standard
output. Files are replaced atomically and keep their mode and owner; new
files get mode 0600.

Flags:
`

// passwdMain runs "tern passwd ARGS", the counterpart of mosquitto_passwd:
// it adds or updates a user (-c creates the file anew), deletes one (-D),
// or converts a file of plain "user:password" lines to hashes (-U).
func passwdMain(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("tern passwd", flag.ContinueOnError)
	fl.SetOutput(stderr)
	create := fl.Bool("c", false, "create a new password file, overwriting an existing one")
	batch := fl.Bool("b", false, "batch mode: take the password from the command line (visible in ps and shell history)")
	del := fl.Bool("D", false, "delete the user instead of adding or updating it")
	update := fl.Bool("U", false, "convert a file of plain-text user:password lines to hashed passwords, in place")
	iterations := fl.Int("I", 0, "PBKDF2 `iterations` (default 101, as Mosquitto 2.0; 4096 and at least 4096 for scram-sha-256) or Argon2id time cost (default 2)")
	hash := fl.String("H", string(passwd.SHA512PBKDF2), "`hash` to write: sha512-pbkdf2 (read by Mosquitto 2.0 and 2.1), argon2id (Mosquitto 2.1 only) or scram-sha-256 (Tern only: MQTT 5 SCRAM-SHA-256 logins, and plain passwords too)")
	fl.Usage = func() {
		fmt.Fprint(stderr, passwdUsage)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return err
	}
	opts := passwd.HashOptions{Algorithm: passwd.Algorithm(*hash), Iterations: *iterations}
	if isSet(fl, "I") && *iterations < 1 {
		return errors.New("passwd: -I must be at least 1")
	}
	switch opts.Algorithm {
	case passwd.SHA512PBKDF2, passwd.Argon2id, passwd.SCRAMSHA256:
	case passwd.SHA512:
		return errors.New("passwd: -H sha512 is read but not written by tern (too fast to resist guessing); use sha512-pbkdf2")
	default:
		return fmt.Errorf("passwd: -H %q: want sha512-pbkdf2, argon2id or scram-sha-256", *hash)
	}
	pos := fl.Args()
	want := 2
	switch {
	case *update && (*create || *del || *batch):
		return errors.New("passwd: -U takes no -c, -D or -b")
	case *create && *del:
		return errors.New("passwd: -c and -D exclude each other")
	case *del && *batch:
		return errors.New("passwd: -D takes no password")
	case *update:
		want = 1
	case *batch:
		want = 3
	}
	if len(pos) != want {
		fl.Usage()
		return fmt.Errorf("passwd: want %d arguments, got %d", want, len(pos))
	}
	path := pos[0]
	if *update {
		return convertPlain(path, opts)
	}
	user := pos[1]
	if err := passwd.CheckUser(user); err != nil {
		return fmt.Errorf("passwd: %w", err)
	}

	var old []byte
	if !*create {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("passwd: %s does not exist (use -c to create it)", path)
		}
		if err != nil {
			return fmt.Errorf("passwd: %w", err)
		}
		old = b
	}
	entries, err := passwd.Parse(bytes.NewReader(old))
	if err != nil {
		return fmt.Errorf("passwd: %s: %w (fix it by hand first)", path, err)
	}
	lines := splitLines(old)
	at := -1 // index in lines of user's entry
	for _, e := range entries {
		if e.User == user {
			at = e.Line - 1
		}
	}
	if *del {
		if at < 0 {
			fmt.Fprintf(stderr, "Warning: user %s not found in %s; nothing changed.\n", user, path)
			return nil
		}
		lines = append(lines[:at], lines[at+1:]...)
		return writePasswd(path, lines)
	}

	var password []byte
	if *batch {
		password = []byte(pos[2])
	} else if password, err = promptPassword(stdin, stderr); err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	h, err := passwd.NewHash(password, opts)
	if err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	line := user + ":" + h.String()
	if at >= 0 {
		lines[at] = line
	} else {
		lines = append(lines, line)
	}
	if *create && path == "-" {
		_, err := io.WriteString(stdout, line+"\n")
		return err
	}
	return writePasswd(path, lines)
}

// isSet reports whether flag name was given on the command line.
func isSet(fl *flag.FlagSet, name string) bool {
	set := false
	fl.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// convertPlain hashes every "user:password" line of the file at path in
// place, keeping comments and blank lines. The password is everything
// after the first ':' (blanks included); a line that already holds a
// hash is refused, as hashing it again would lock its user out.
func convertPlain(path string, opts passwd.HashOptions) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	lines := splitLines(b)
	for i, l := range lines {
		user, _, ok, err := passwd.SplitLine(l)
		if err != nil {
			return fmt.Errorf("passwd: %s: line %d: %w", path, i+1, err)
		}
		if !ok {
			continue
		}
		_, password, _ := strings.Cut(strings.TrimSuffix(l, "\r"), ":")
		if _, err := passwd.ParseHash(strings.TrimSpace(password)); err == nil {
			return fmt.Errorf("passwd: %s: line %d: user %s already has a hashed password; -U only converts plain-text passwords", path, i+1, user)
		}
		h, err := passwd.NewHash([]byte(password), opts)
		if err != nil {
			return fmt.Errorf("passwd: %w", err)
		}
		lines[i] = user + ":" + h.String()
	}
	return writePasswd(path, lines)
}

// splitLines splits a file into lines without their "\n"; a final line
// break does not make an empty last line.
func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// writePasswd checks that lines make a valid password file and writes it
// atomically.
func writePasswd(path string, lines []string) error {
	data := []byte(strings.Join(lines, "\n"))
	if len(lines) > 0 {
		data = append(data, '\n')
	}
	if _, err := passwd.Parse(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("passwd: would write an invalid file: %w", err) // a bug if it happens
	}
	if err := passwd.WriteFile(path, data); err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	return nil
}

// promptPassword reads a password twice from stdin, turning off the
// terminal's echo when stdin is one. Prompts go to prompt (stderr), so
// that standard output stays clean.
func promptPassword(stdin io.Reader, prompt io.Writer) ([]byte, error) {
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 && stty(f, "-echo") == nil {
			defer func() {
				stty(f, "echo")
				fmt.Fprintln(prompt)
			}()
		}
	}
	r := bufio.NewReader(stdin)
	read := func(label string) ([]byte, error) {
		fmt.Fprint(prompt, label)
		l, err := r.ReadString('\n')
		if err != nil && (err != io.EOF || l == "") {
			return nil, errors.New("no password given on standard input")
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			return nil, errors.New("empty password")
		}
		return []byte(l), nil
	}
	p1, err := read("Password: ")
	if err != nil {
		return nil, err
	}
	p2, err := read("\nReenter password: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p1, p2) {
		return nil, errors.New("passwords do not match")
	}
	return p1, nil
}

// stty runs stty on the terminal f (to turn echo off and on).
func stty(f *os.File, arg string) error {
	cmd := exec.Command("stty", arg)
	cmd.Stdin = f
	return cmd.Run()
}
