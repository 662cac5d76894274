// Package nodeauth authorizes node credentials (user system:node:<name> in
// group system:nodes) as the Kubernetes Node authorizer, the system:node
// role and the NodeRestriction admission plugin do together: a node reads
// what is scheduled to it and writes its own Node, Lease, pod status and
// events, and nothing else. Users outside system:nodes go to the next
// authorizer.
//
// It decides from request attributes and a Graph (the node sync hub's
// index) only: it does no I/O and must not import storage or the hub.
package nodeauth
