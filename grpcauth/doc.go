// Package grpcauth authenticates gRPC calls between services with asymjwt:
// asymmetric-key JWTs, one fresh token per call, no shared secret.
//
// On the server, [UnaryServerInterceptor] and [StreamServerInterceptor]
// read the "authorization" metadata (exactly one value, whatever the case
// of the key), verify it with an
// [asymjwt.Verifier] and put the caller's identity on the handler's
// context, where asymjwt.FromContext finds it:
//
//	v, _ := asymjwt.NewVerifier(keys,
//		asymjwt.WithAudience("orders"), asymjwt.RequireAudience(),
//		asymjwt.RequireRequestBinding())
//	srv := grpc.NewServer(
//		grpc.Creds(tlsCreds),
//		grpc.ChainUnaryInterceptor(grpcauth.UnaryServerInterceptor(v,
//			grpcauth.WithExempt(grpcauth.HealthMethods))),
//		grpc.ChainStreamInterceptor(grpcauth.StreamServerInterceptor(v,
//			grpcauth.WithExempt(grpcauth.HealthMethods))))
//
// Refused calls end with codes.Unauthenticated, or codes.Unavailable when
// a key or replay store failed (fail closed). The status message names no
// reason; the verifier logs it and passes it to its observer.
//
// On the client, [Credentials] signs each call with an [asymjwt.Signer],
// binding the token to the call's full method (the qsh claim computed over
// "POST /pkg.Service/Method", docs/PROTOCOL.md §1.4), so a token captured on one
// method is refused on every other:
//
//	s, _ := asymjwt.NewSigner("billing", key, asymjwt.WithAudience("orders"))
//	creds, err := grpcauth.NewCredentials(s) // ErrBodyHash for a body-hashing Signer
//	conn, _ := grpc.NewClient(addr,
//		grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)),
//		grpc.WithPerRPCCredentials(creds))
//
// The credentials refuse connections without transport security unless
// built with [InsecureAllowPlaintext].
//
// The audience (aud) is asymjwt's extension: the Python library
// asymmetric_jwt_auth refuses every token that carries an aud claim (it
// decodes with PyJWT without an audience, and PyJWT then rejects any aud).
// Leave asymjwt.WithAudience off a Signer whose tokens a Python service
// verifies.
//
// Stacked interceptors of one verifier (Optional on every call, required
// on some, in one chain) verify a call once: the inner one finds the
// identity the outer one verified for this same call. An identity that a
// call's context already carried (a context handed on from another call,
// or made with asymjwt.NewContext) vouches for nothing: the credential is
// verified, and a token already used is refused as replayed. Exactly one
// credential is taken: every value under every spelling of the key
// counts, so metadata built in process with both "authorization" and
// "Authorization" is refused, as two values are.
package grpcauth
