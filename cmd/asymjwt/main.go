package main

import (
	"context"
	"os"

	"github.com/asymjwt/asymjwt/cmd/asymjwt/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
