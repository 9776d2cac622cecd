//go:build darwin || freebsd || netbsd

package asymjwt

import (
	"io/fs"
	"syscall"
	"time"
)

// openNonBlock keeps opening a FIFO from blocking.
const openNonBlock = syscall.O_NONBLOCK

// changeTime is the inode change time of info, when the platform has it.
func changeTime(info fs.FileInfo) (time.Time, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(int64(st.Ctimespec.Sec), int64(st.Ctimespec.Nsec)), true
}
