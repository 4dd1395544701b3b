package storage

// SetGrepRangeSize makes GrepCounts split objects larger than n bytes
// into ranges of n bytes, so that tests reach range boundaries with small
// objects.
func SetGrepRangeSize(s *Service, n int64) { s.grepRangeSize = n }
