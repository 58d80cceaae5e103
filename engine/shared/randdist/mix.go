package randdist

// Mix64 is the splitmix64 finaliser (Steele, Lea and Flood): a well-mixed
// hash of one 64-bit word, for deriving seeds and stream ids from words
// that may differ in a few low bits only (consecutive sequence numbers,
// shard indices).
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
