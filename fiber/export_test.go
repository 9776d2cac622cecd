package asymjwtfiber

// EscapedPath exposes escapedPath to the black-box tests.
var EscapedPath = escapedPath
