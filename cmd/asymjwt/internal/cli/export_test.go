package cli

// FormatVersion is formatVersion, for the black-box tests.
var FormatVersion = formatVersion
