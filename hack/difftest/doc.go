// Package difftest measures how closely skiff's server/validation and
// server/defaults follow kube-apiserver: its test feeds the same objects,
// hand-written and fuzzed, to skiff and to the upstream registry strategies
// and defaulters of k8s.io/kubernetes, and reports every disagreement.
//
// It is a module of its own so that the skiff binary never links
// k8s.io/kubernetes; it has no code outside its tests.
package difftest
