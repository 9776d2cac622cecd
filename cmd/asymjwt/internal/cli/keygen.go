package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

var keyKinds = []string{
	asymjwt.KindEd25519, asymjwt.KindRSA, asymjwt.KindRSA3072, asymjwt.KindRSA4096,
	asymjwt.KindP256, asymjwt.KindP384, asymjwt.KindP521,
}

func runKeygen(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "keygen", help{
		usage: "asymjwt keygen [--type TYPE] --out PATH [--passphrase-file FILE] [--force] [--json]",
		text: `Generates a key pair. PATH receives the private key (PEM PKCS#8, mode
0600; encrypted PKCS#8 with --passphrase-file) and PATH.pub the public key
(PEM SubjectPublicKeyInfo). Prints both paths and the key's kid.
Give PATH.pub to the services you call; keep PATH secret.`,
		example: `asymjwt keygen --type ed25519 --out client.pem`,
	})
	kind := fs.String("type", asymjwt.KindEd25519, "key `TYPE`: ed25519, rsa (2048 bits), rsa3072, rsa4096, p256, p384 or p521")
	out := fs.String("out", "", "`PATH` of the private key; the public key goes to PATH.pub")
	passFile := fs.String("passphrase-file", "", "encrypt the private key with the passphrase in `FILE`")
	force := fs.Bool("force", false, "overwrite existing files")
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	case *out == "":
		return usagef("--out is required")
	case !slices.Contains(keyKinds, *kind):
		return usagef("--type must be one of %v", keyKinds)
	}
	pubPath := *out + ".pub"
	pass, err := readPassphrase(*passFile)
	if err != nil {
		return err
	}
	if !*force {
		// Check both before writing either, so a refusal leaves nothing behind.
		for _, p := range []string{*out, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists (use --force to overwrite)", p)
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	key, err := asymjwt.GenerateKey(*kind)
	if err != nil {
		return err
	}
	privPEM, err := asymjwt.MarshalPrivateKeyPEM(key, pass)
	if err != nil {
		return err
	}
	pubPEM, err := asymjwt.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		return err
	}
	kid, err := asymjwt.Fingerprint(key.Public())
	if err != nil {
		return err
	}
	if *force {
		if err := writeAtomic(*out, privPEM, 0o600); err != nil {
			return err
		}
		if err := writeAtomic(pubPath, pubPEM, 0o644); err != nil {
			return err
		}
	} else {
		if err := createExclusive(*out, privPEM, 0o600); err != nil {
			return err
		}
		if err := createExclusive(pubPath, pubPEM, 0o644); err != nil {
			os.Remove(*out)
			return err
		}
	}
	if *asJSON {
		return writeJSON(e, map[string]string{
			"private_key": *out,
			"public_key":  pubPath,
			"type":        keyType(key.Public()),
			"kid":         kid,
		})
	}
	fmt.Fprintf(e.stdout, "private key: %s\npublic key:  %s\ntype:        %s\nkid:         %s\n",
		*out, pubPath, keyType(key.Public()), kid)
	return nil
}

// writeJSON prints v as indented JSON.
func writeJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
