package cli

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	asymjwt "github.com/asymjwt/asymjwt/core"
)

// Every input from outside is read through readLimited, which stops one
// byte past its limit, so that nothing is parsed (or even held) beyond
// the limit. The limits:
const (
	// maxInput bounds a request body given to sign, request and verify.
	maxInput = 16 << 20
	// maxKeyFile bounds a key file: the largest supported key, an
	// encrypted 8192-bit RSA key, takes under 7 KiB of PEM; the rest is
	// room for comments, parameters and certificates in the same file.
	maxKeyFile = 64 << 10
	// maxPassphraseFile bounds a passphrase file.
	maxPassphraseFile = 4 << 10
	// maxTokenInput bounds what verify and inspect read as TOKEN: a token
	// of core's default size limit with its "Authorization: SCHEME " and
	// white space. The verifier enforces the exact limit.
	maxTokenInput = asymjwt.DefaultMaxTokenSize + 1<<10
)

// errTooLarge is the refusal of an input over its limit.
var errTooLarge = errors.New("too large")

// readLimited reads path, or stdin when path is "-", refusing more than
// limit bytes: it reads at most limit+1.
func readLimited(e *env, path string, limit int64) ([]byte, error) {
	if path == "-" {
		return readAtMost(e.stdin, "stdin", limit)
	}
	return readFileLimited(path, limit)
}

// readFileLimited reads the file at path, refusing more than limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAtMost(f, path, limit)
}

func readAtMost(r io.Reader, name string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w (more than %d bytes)", name, errTooLarge, limit)
	}
	return data, nil
}

// readInput reads a request body from path, or stdin when path is "-".
func readInput(e *env, path string) ([]byte, error) {
	return readLimited(e, path, maxInput)
}

// readKeyFile reads a key file, or stdin when path is "-".
func readKeyFile(e *env, path string) ([]byte, error) {
	return readLimited(e, path, maxKeyFile)
}

// readPassphrase reads a passphrase file; one trailing newline (as
// written by echo) is not part of it. An empty path means none.
func readPassphrase(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := readFileLimited(path, maxPassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("passphrase: %w", err)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	data = bytes.TrimSuffix(data, []byte("\r"))
	if len(data) == 0 {
		return nil, fmt.Errorf("passphrase file %s is empty", path)
	}
	return data, nil
}

// loadSigner reads a private key file (any format core reads).
func loadSigner(e *env, path, passphraseFile string) (crypto.Signer, error) {
	data, err := readKeyFile(e, path)
	if err != nil {
		return nil, err
	}
	pass, err := readPassphrase(passphraseFile)
	if err != nil {
		return nil, err
	}
	key, err := asymjwt.ParsePrivateKey(data, pass)
	if err != nil {
		if _, perr := asymjwt.ParsePublicKey(data); perr == nil {
			return nil, fmt.Errorf("%s: %w (give the private key: keygen writes it to the path without .pub)", displayPath(path), err)
		}
		return nil, keyError(path, err)
	}
	return key, nil
}

// loadPublicKey reads the public key of a key file: a public key in any
// format core reads, or a private key (whose public half is used). The
// comment of an OpenSSH line is returned as well.
func loadPublicKey(e *env, path, passphraseFile string) (crypto.PublicKey, string, error) {
	data, err := readKeyFile(e, path)
	if err != nil {
		return nil, "", err
	}
	if !bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		pub, comment, err := asymjwt.ParseAuthorizedKey(data)
		if err != nil {
			return nil, "", keyError(path, err)
		}
		return pub, comment, nil
	}
	pass, err := readPassphrase(passphraseFile)
	if err != nil {
		return nil, "", err
	}
	key, err := asymjwt.ParsePrivateKey(data, pass)
	if err != nil {
		return nil, "", keyError(path, err)
	}
	return key.Public(), "", nil
}

// displayPath names a file argument in messages.
func displayPath(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

func keyError(path string, err error) error {
	path = displayPath(path)
	if errors.Is(err, asymjwt.ErrPassphrase) {
		return fmt.Errorf("%s: %w (give the passphrase with --passphrase-file)", path, err)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// keyType names a public key as keygen's --type does, with the RSA size
// always spelled out.
func keyType(pub crypto.PublicKey) string {
	if p, ok := pub.(*asymjwt.PinnedKey); ok {
		pub = p.PublicKey
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return strings.ToLower(strings.ReplaceAll(k.Curve.Params().Name, "-", ""))
	case ed25519.PublicKey:
		return "ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// createExclusive writes a new file; it fails if path exists.
func createExclusive(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists (use --force to overwrite)", path)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// writeAtomic replaces path with data through a temporary file in the
// same directory and a rename, so readers see the old or the new content,
// never a part; the directory is synced, so that the rename survives a
// crash. The temporary name starts with a dot, which directory watchers
// skip.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// syncDir flushes dir's entries (a rename, a removal) to disk. Windows
// cannot open a directory to sync it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
