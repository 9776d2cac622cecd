// Command asymjwt is the command-line side of asymjwt: it makes and
// inspects keys and tokens, manages authorized-keys directories, sends
// signed requests, and runs an authenticating reverse proxy in front of a
// service written in any language.
//
// Usage:
//
//	asymjwt keygen --type ed25519 --out client.pem
//	asymjwt pubkey --key client.pem --format openssh|jwk|pem
//	asymjwt fingerprint client.pem.pub
//	asymjwt sign --key client.pem --user NAME [--aud A] [--method M --url U [--body FILE]] [--header]
//	asymjwt verify (--pub PATH | --keys DIR | --jwks URL) [--user NAME] [--aud A] [--json] TOKEN
//	asymjwt inspect TOKEN
//	asymjwt jwks PUBFILE...
//	asymjwt keys add|list|remove --dir DIR ...
//	asymjwt request --key client.pem --user NAME [-X METHOD] [-d @FILE] [-H 'K: V'] URL
//	asymjwt proxy --listen ADDR --upstream URL --keys DIR [--redis URL] [--aud A] [--strict]
//
// Every command prints its flags and an example with -h. Long flags may
// be written with one dash or two. Errors go to stderr; the exit status
// is 0 on success, 1 on failure (a refused token, an HTTP status of 400
// or more) and 2 for a usage error.
package main
