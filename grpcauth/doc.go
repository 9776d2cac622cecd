// Package grpcauth authenticates gRPC calls between services with asymjwt:
// asymmetric-key JWTs, one fresh token per call, no shared secret.
//
// On the server, [UnaryServerInterceptor] and [StreamServerInterceptor]
// read the "authorization" metadata (exactly one value), verify it with an
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
// "POST /pkg.Service/Method", SPEC §1.4), so a token captured on one
// method is refused on every other:
//
//	s, _ := asymjwt.NewSigner("billing", key, asymjwt.WithAudience("orders"))
//	conn, _ := grpc.NewClient(addr,
//		grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)),
//		grpc.WithPerRPCCredentials(grpcauth.NewCredentials(s)))
//
// The credentials refuse connections without transport security unless
// built with [InsecureAllowPlaintext].
package grpcauth
