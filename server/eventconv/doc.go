// Package eventconv converts between the two wire forms of a Kubernetes
// event: core/v1 Event, which is what skiff stores under
// /registry/events/<namespace>/<name>, and events.k8s.io/v1 Event, which is
// only a view of the same object.
//
// The field mapping is kube-apiserver's, so a client may write through one
// group and read through the other without losing anything. It also holds
// the field-selector vocabulary for events, because that too is defined on
// the stored core/v1 form.
//
// It is pure: no I/O, no clock. It must not import storage or the API
// server.
package eventconv
