package consent

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// KeySet holds the Ed25519 keys of one deployment: the receipt signing keys (the last one
// signs, every one verifies, so a rotation does not invalidate receipts already issued)
// and the separate admin-token key, so a leaked receipt key cannot mint admin tokens.
type KeySet struct {
	Receipt []Key
	Admin   Key
}

// Key is one Ed25519 key pair with its key id.
type Key struct {
	ID      string
	Private ed25519.PrivateKey
}

// Public returns the key's public half.
func (k Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// Signer returns the key that signs new receipts: the newest one.
func (ks *KeySet) Signer() Key { return ks.Receipt[len(ks.Receipt)-1] }

// ReceiptKey returns the receipt key with the given id.
func (ks *KeySet) ReceiptKey(kid string) (Key, bool) {
	for _, k := range ks.Receipt {
		if k.ID == kid {
			return k, true
		}
	}
	return Key{}, false
}

// jwk is the JSON Web Key form (RFC 8037) used both in the key file, with the private
// part d, and in the published JWKS, without it.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	X   string `json:"x"`
	D   string `json:"d,omitempty"`
}

type keyFile struct {
	Receipt []jwk `json:"receipt"`
	Admin   jwk   `json:"admin"`
}

var b64 = base64.RawURLEncoding

func newKey() (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return Key{}, fmt.Errorf("generate key id: %w", err)
	}
	return Key{ID: b64.EncodeToString(id), Private: priv}, nil
}

// GenerateKeySet makes a fresh key set: one receipt key and one admin key.
func GenerateKeySet() (*KeySet, error) {
	r, err := newKey()
	if err != nil {
		return nil, err
	}
	a, err := newKey()
	if err != nil {
		return nil, err
	}
	return &KeySet{Receipt: []Key{r}, Admin: a}, nil
}

// Rotate adds a new receipt key, which signs from now on; older keys keep verifying
// until an operator removes them from the file.
func (ks *KeySet) Rotate() error {
	k, err := newKey()
	if err != nil {
		return err
	}
	ks.Receipt = append(ks.Receipt, k)
	return nil
}

func toJWK(k Key, private bool) jwk {
	j := jwk{Kty: "OKP", Crv: "Ed25519", Kid: k.ID, Alg: "EdDSA", Use: "sig", X: b64.EncodeToString(k.Public())}
	if private {
		j.D = b64.EncodeToString(k.Private.Seed())
	}
	return j
}

func fromJWK(j jwk, where string) (Key, error) {
	if j.Kty != "OKP" || j.Crv != "Ed25519" {
		return Key{}, fmt.Errorf("%s: not an Ed25519 key (kty %q, crv %q)", where, j.Kty, j.Crv)
	}
	if j.Kid == "" {
		return Key{}, fmt.Errorf("%s: kid is required", where)
	}
	seed, err := b64.DecodeString(j.D)
	if err != nil || len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("%s: d must be a %d-byte base64url seed", where, ed25519.SeedSize)
	}
	k := Key{ID: j.Kid, Private: ed25519.NewKeyFromSeed(seed)}
	if x, err := b64.DecodeString(j.X); err != nil || !bytes.Equal(x, k.Public()) {
		return Key{}, fmt.Errorf("%s: x does not match the private key", where)
	}
	return k, nil
}

// MarshalKeySet returns the key file form: JSON with private keys, to be kept secret.
func MarshalKeySet(ks *KeySet) ([]byte, error) {
	f := keyFile{Admin: toJWK(ks.Admin, true)}
	for _, k := range ks.Receipt {
		f.Receipt = append(f.Receipt, toJWK(k, true))
	}
	return json.MarshalIndent(f, "", "  ")
}

// ParseKeySet validates a key file and reports every problem at once.
func ParseKeySet(data []byte) (*KeySet, error) {
	var f keyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	var errs []error
	ks := &KeySet{}
	if len(f.Receipt) == 0 {
		errs = append(errs, errors.New("receipt: at least one key is required"))
	}
	seen := map[string]bool{}
	for i, j := range f.Receipt {
		k, err := fromJWK(j, fmt.Sprintf("receipt[%d]", i))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[k.ID] {
			errs = append(errs, fmt.Errorf("receipt[%d]: duplicate kid %q", i, k.ID))
		}
		seen[k.ID] = true
		ks.Receipt = append(ks.Receipt, k)
	}
	a, err := fromJWK(f.Admin, "admin")
	if err != nil {
		errs = append(errs, err)
	}
	ks.Admin = a
	if seen[a.ID] {
		errs = append(errs, errors.New("admin: kid must differ from every receipt kid"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("key file: %w", errors.Join(errs...))
	}
	return ks, nil
}

// LoadKeySet reads and validates a key file.
func LoadKeySet(path string) (*KeySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	ks, err := ParseKeySet(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ks, nil
}

// SaveKeySet writes the key file readable by its owner only, atomically, so a crash
// mid-rotation never leaves a truncated key file.
func SaveKeySet(path string, ks *KeySet) error {
	data, err := MarshalKeySet(ks)
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("key file: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	return nil
}

// JWKS returns the public receipt keys as a JSON Web Key Set (never the admin key:
// only this service checks admin tokens).
func (ks *KeySet) JWKS() ([]byte, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	for _, k := range ks.Receipt {
		set.Keys = append(set.Keys, toJWK(k, false))
	}
	return json.Marshal(set)
}
