//go:build unix

package objects

import (
	"io/fs"
	"syscall"
)

// inode returns the inode number of the file fi describes.
func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) // the type of Ino differs between Unix systems
	}
	return 0
}
