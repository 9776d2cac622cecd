// Package asymjwt authenticates server-to-server HTTP and gRPC calls with
// asymmetric keys and no shared secret.
//
// A client service holds a private key and signs a fresh, short-lived JWT
// for every request ([Signer], [Signer.Transport]). The server holds only
// public keys ([KeyStore]) and checks, in this order ([Verifier]):
//
//  1. the token's size, the Authorization scheme, and that there is exactly one credential;
//  2. the compact JWS form and the claims (username, time, nonce), without trusting them;
//  3. the user's keys, by username and the kid header;
//  4. the alg against the key — the key decides; none and HMAC never pass — then the signature;
//  5. the time claim, within ±20 s of the server's clock;
//  6. the optional aud (audience), qsh (method, path, query) and bh (body) claims;
//  7. and only then records the nonce, atomically ([ReplayStore]): a token works once.
//
// The wire protocol is that of the Python library asymmetric_jwt_auth:
// tokens from either side verify on the other.
//
// # Security notes
//
// Only the claims are signed. Without aud, qsh and bh, a token says who
// is calling and that the call is fresh, but not which service, request
// or body it was made for: use [WithAudience] on both sides, and
// [WithRequestBinding] / [WithBodyHash] on the signer with
// [RequireRequestBinding] / [RequireBodyHash] on the verifier where
// requests must not be altered. Always use TLS: the token is readable by
// anyone who sees the request.
//
// Every failure is one 401 to the client (503 when a store is down: fail
// closed); the reason goes to the log and to [WithObserver], never to the
// caller. Match reasons with errors.Is against the Err* sentinels.
// An unknown username is refused before any signature work, so response
// timing can tell an attacker whether a username exists; usernames are
// service names, not secrets.
//
// # Key sources
//
// A [KeyStore] finds a client's public keys: [NewMemoryKeyStore] for keys
// added in code, [OpenAuthorizedKeysDir] for a directory of authorized-keys
// files reloaded on change, [NewJWKSTrust] for clients that publish their
// keys as a JWKS, [ChainKeyStores] to combine them, and [NewLastUsedStore]
// to record when each key was last used. [NewJWKSHandler] publishes a
// service's own keys.
//
// The in-memory replay store protects one process. A service that runs
// as several instances needs a shared store (the redis module), or a
// token accepted by one instance can be replayed to another.
package asymjwt
