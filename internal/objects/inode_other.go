//go:build !unix

package objects

import "io/fs"

// inode returns 0: the platform's file information has no inode number, so
// the ETag rests on size and modification time alone.
func inode(fs.FileInfo) uint64 { return 0 }
