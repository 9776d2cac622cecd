// Command release prepares and checks a release of the asymjwt modules.
//
// asymjwt is released the way multi-module repositories such as
// opentelemetry-go are: every public module is tagged with its folder as a
// prefix (core/v0.1.0, gin/v0.1.0, cmd/asymjwt/v0.1.0), and the modules
// require each other at real versions, so `go get` and `go install …@v0.1.0`
// work for a user outside the repository. The modules are those of go.work;
// the ones never published are listed in [unpublished]. All public modules
// share one version: the one their go.mod files name.
//
// Usage, from the repository root (`make release VERSION=…` runs bump,
// `make gowork-off` check, `make tidy` tidy):
//
//	go run ./internal/release bump VERSION  # set every cross-module requirement to VERSION, print the tags to push
//	go run ./internal/release tags          # print the tags of the version the go.mod files name
//	go run ./internal/release modules       # list the modules of go.work, public or not
//	go run ./internal/release proxy DIR     # write a GOPROXY=file://DIR directory of the public modules, from the working tree
//	go run ./internal/release check         # GOWORK=off: go build ./... and go mod tidy -diff in every module
//	go run ./internal/release tidy          # GOWORK=off: go mod tidy in every module
//
// A library module keeps `replace` lines to its siblings' folders, as a
// local convenience: it then builds with GOWORK=off, and Go ignores the
// lines in a dependency. A module with a main package (cmd/asymjwt) carries
// no replace: `go install path@version` refuses a module whose go.mod has
// one (bump drops its replace lines for siblings). It builds in the
// repository through go.work, whose replace lines for the siblings it
// fetches, at the release version, bump writes; with GOWORK=off it
// needs its siblings at the versions it names, which `check` serves from
// the working tree through a file proxy. Its go.sum lines for the siblings
// are written by bump from the working tree, so bump runs on the commit
// that is tagged.
//
// The test of this module builds that proxy and installs every public
// module, and the CLI, into a fresh module outside the repository with
// GOWORK=off, no replace and nothing fetched from the network.
package main
