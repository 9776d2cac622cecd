package grpcauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// rpc is one kind of call to the test service. call returns the usernames
// the handler saw, joined with "," (one per response message).
type rpc struct {
	name   string
	method string
	call   func(ctx context.Context, c testgrpc.TestServiceClient, opts ...grpc.CallOption) (string, error)
}

var rpcs = []rpc{
	{name: "unary", method: methodUnary, call: callUnary},
	{name: "server-streaming", method: methodServerStr, call: callServerStreaming},
	{name: "bidi-streaming", method: methodBidi, call: callBidi},
}

func callUnary(ctx context.Context, c testgrpc.TestServiceClient, opts ...grpc.CallOption) (string, error) {
	resp, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{FillUsername: true}, opts...)
	return resp.GetUsername(), err
}

func callServerStreaming(ctx context.Context, c testgrpc.TestServiceClient, opts ...grpc.CallOption) (string, error) {
	stream, err := c.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{
		ResponseParameters: []*testgrpc.ResponseParameters{{}, {}, {}},
	}, opts...)
	if err != nil {
		return "", err
	}
	var users []string
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return strings.Join(users, ","), nil
		}
		if err != nil {
			return "", err
		}
		users = append(users, string(resp.GetPayload().GetBody()))
	}
}

func callBidi(ctx context.Context, c testgrpc.TestServiceClient, opts ...grpc.CallOption) (string, error) {
	stream, err := c.FullDuplexCall(ctx, opts...)
	if err != nil {
		return "", err
	}
	var users []string
	for range 3 {
		if err := stream.Send(&testgrpc.StreamingOutputCallRequest{}); err != nil {
			if errors.Is(err, io.EOF) {
				// The server ended the stream: its status comes with Recv.
				_, err = stream.Recv()
			}
			return "", err
		}
		resp, err := stream.Recv()
		if err != nil {
			return "", err
		}
		users = append(users, string(resp.GetPayload().GetBody()))
	}
	if err := stream.CloseSend(); err != nil {
		return "", err
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("end of stream: %w", err)
	}
	return strings.Join(users, ","), nil
}

// wantUsers is what call returns for an authenticated user.
func (r rpc) wantUsers(user string) string {
	if r.method == methodUnary {
		return user
	}
	return strings.Join([]string{user, user, user}, ",")
}
