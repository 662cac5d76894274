// Package validation checks objects the way kube-apiserver does before it
// stores them, and reports problems as field.ErrorList with kube's field
// paths and messages, so that skiff's 422 responses read like a real
// cluster's ("spec.containers[0].image: Required value").
//
// The rules follow k8s.io/kubernetes/pkg/apis/*/validation and the registry
// strategies, re-expressed over the versioned k8s.io/api types; where kube
// reports an internal field name (e.g. spec.securityContext.shareProcessNamespace
// or the events.k8s.io "involvedObject") we report the same path.
//
// Create and Update expect objects that have already been through
// server/defaults (and, for Jobs, defaults.JobSelector) with names generated,
// just as kube validates after defaulting. The package is pure: no I/O, no
// clock, no state. It must not import k8s.io/kubernetes, k8s.io/apiserver, or
// anything under server/ or agent/.
package validation
