//go:build !(aix || dragonfly || linux || openbsd || solaris || darwin || freebsd || netbsd)

package asymjwt

import (
	"io/fs"
	"time"
)

// openNonBlock is none: no FIFOs to fear here, or no flag for them.
const openNonBlock = 0

// changeTime: this platform's stat has no inode change time.
func changeTime(fs.FileInfo) (time.Time, bool) { return time.Time{}, false }
