package main

import (
	"testing"

	"github.com/asymjwt/asymjwt/examples/internal/demo"
)

func TestExample(t *testing.T) {
	if err := demo.CheckOutput(run); err != nil {
		t.Fatal(err)
	}
}
