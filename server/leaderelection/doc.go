// Package leaderelection chooses, among servers sharing a datastore, the one
// that runs the controllers. Candidates compete for a coordination.k8s.io
// Lease with the protocol of client-go's tools/leaderelection, so the Lease
// reads the same to kubectl and to Kubernetes components.
//
// The decision (may this candidate write the Lease now, and what) is pure,
// in decide.go; elector.go does the I/O and the timing on an injected clock.
//
// It must not import client-go's leaderelection, resourcelock or generated
// clientset packages: those link every Kubernetes API group into the binary,
// which is why this package exists. It talks to the API through kubeclient.
package leaderelection
