package route

import "testing"

// FuzzParsePoints: an ids file (on disk, possibly damaged) parses to sorted
// points or is refused.
func FuzzParsePoints(f *testing.F) {
	f.Add([]byte("0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000f\n"))
	f.Add([]byte("\n"))
	f.Add([]byte("zz\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, err := ParsePoints("fuzz", b)
		if err != nil {
			return
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].Less(pts[i-1]) {
				t.Fatalf("points not sorted at %d", i)
			}
		}
	})
}
