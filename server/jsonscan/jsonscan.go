package jsonscan

import "bytes"

// StringEnd returns the index just after the JSON string that starts at
// b[i] (its opening quote), escapes skipped, and false if b[i] is not a
// quote or the string does not end. It does not validate the string.
func StringEnd(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	j := i + 1
	for {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return 0, false
		}
		e := bytes.IndexByte(b[j:j+q], '\\')
		if e < 0 {
			return j + q + 1, true
		}
		// An escape before the quote: skip it and the byte it escapes.
		j += e + 2
		if j > len(b) {
			return 0, false
		}
	}
}
