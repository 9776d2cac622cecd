package cli

import (
	"context"
	"crypto"
	"fmt"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

func runPubkey(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "pubkey", help{
		usage: "asymjwt pubkey --key PATH [--format pem|openssh|jwk] [--passphrase-file FILE]",
		text: `Prints the public key of a key file: a private key (PEM or OpenSSH) or a
public key (PEM, OpenSSH authorized_keys line or JWK). PATH "-" reads stdin.`,
		example: `asymjwt pubkey --key client.pem --format openssh`,
	})
	keyPath := fs.String("key", "", "key `PATH`, - for stdin")
	format := fs.String("format", "pem", "output `FORMAT`: pem (SubjectPublicKeyInfo), openssh or jwk")
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted private key, in `FILE`")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case len(rest) != 0:
		return usagef("unexpected argument %q", rest[0])
	case *keyPath == "":
		return usagef("--key is required")
	case *format != "pem" && *format != "openssh" && *format != "jwk":
		return usagef("--format must be pem, openssh or jwk")
	}
	pub, _, err := loadPublicKey(e, *keyPath, *passFile)
	if err != nil {
		return err
	}
	var out []byte
	switch *format {
	case "jwk":
		j, err := asymjwt.NewJWK(pub)
		if err != nil {
			return err
		}
		return writeJSON(e, j)
	case "openssh":
		out, err = asymjwt.MarshalPublicKeyOpenSSH(pub, "")
	default:
		out, err = asymjwt.MarshalPublicKeyPEM(pub)
	}
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(out)
	return err
}

func runFingerprint(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "fingerprint", help{
		usage: "asymjwt fingerprint [--passphrase-file FILE] PATH",
		text: `Prints the kid of a key: the lowercase hex SHA-256 of its PEM public key,
the same value the Python library computes and every token's header
carries. PATH is a public or private key file in any supported format,
or "-" for stdin.`,
		example: `asymjwt fingerprint client.pem.pub`,
	})
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted private key, in `FILE`")
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case len(rest) != 1:
		return usagef("want exactly one key file")
	}
	pub, _, err := loadPublicKey(e, rest[0], *passFile)
	if err != nil {
		return err
	}
	kid, err := asymjwt.Fingerprint(pub)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, kid)
	return nil
}

func runJWKS(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "jwks", help{
		usage: "asymjwt jwks PUBFILE...",
		text: `Prints a JWKS document (RFC 7517) holding the public keys of the files,
each with its kid, use "sig" and its default alg: what a service
publishes at its JWKS URL so that others trust its keys.`,
		example: `asymjwt jwks client.pem.pub old-client.pem.pub > jwks.json`,
	})
	rest, err := parse(fs, args)
	switch {
	case err != nil:
		return err
	case len(rest) == 0:
		return usagef("want at least one key file")
	}
	pubs := make([]crypto.PublicKey, 0, len(rest))
	for _, path := range rest {
		pub, _, err := loadPublicKey(e, path, "")
		if err != nil {
			return err
		}
		pubs = append(pubs, pub)
	}
	set, err := asymjwt.NewJWKS(pubs...)
	if err != nil {
		return err
	}
	return writeJSON(e, set)
}
