//go:build !race

package apiserver

// raceDetector says the tests run with -race, which makes the field
// manager some ten times slower.
const raceDetector = false
