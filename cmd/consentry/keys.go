package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/consentry/consentry/consent"
)

// keysCmd runs `keys generate --out FILE` and `keys rotate --keys FILE`.
func keysCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: consentry keys generate --out FILE | consentry keys rotate --keys FILE")
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "generate":
		out := fs.String("out", "", "key file to create (it must not exist)")
		ifMissing := fs.Bool("if-missing", false, "if the key file exists, keep it and succeed (for first-start scripts)")
		if err := parseFlags(fs, args[1:], getenv); err != nil {
			return err
		}
		if *out == "" {
			return errors.New("--out is required")
		}
		if _, err := os.Stat(*out); err == nil {
			if *ifMissing {
				fmt.Fprintf(stdout, "%s exists; kept\n", *out)
				return nil
			}
			return fmt.Errorf("%s exists; refusing to replace keys (use keys rotate)", *out)
		}
		ks, err := consent.GenerateKeySet()
		if err != nil {
			return err
		}
		if err := consent.SaveKeySet(*out, ks); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: receipt key %s, admin key %s\n", *out, ks.Signer().ID, ks.Admin.ID)
		return nil
	case "rotate":
		path := fs.String("keys", "", "key file to add a new receipt signing key to")
		if err := parseFlags(fs, args[1:], getenv); err != nil {
			return err
		}
		ks, err := loadKeys(*path)
		if err != nil {
			return err
		}
		if err := ks.Rotate(); err != nil {
			return err
		}
		if err := consent.SaveKeySet(*path, ks); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added receipt key %s to %s; it signs after a restart, the %d older key(s) keep verifying until removed\n",
			ks.Signer().ID, *path, len(ks.Receipt)-1)
		return nil
	}
	return fmt.Errorf("unknown keys command %q (generate or rotate)", args[0])
}

// tokenCmd prints an admin token on stdout.
func tokenCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("keys", "", "key file holding the admin key")
	role := fs.String("role", string(consent.RoleAnalyst), "admin or analyst")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	issuer := fs.String("issuer", "consentry", "the --issuer the service runs with")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	ks, err := loadKeys(*path)
	if err != nil {
		return err
	}
	tok, err := consent.NewAdminTokens(ks, *issuer, nil).Mint(consent.Role(*role), *ttl, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// loadKeys reads the key file named by a required --keys flag.
func loadKeys(path string) (*consent.KeySet, error) {
	if path == "" {
		return nil, errors.New("--keys is required")
	}
	return consent.LoadKeySet(path)
}
