// Package synchub is the server's end of node sync: it keeps, for every
// node, the desired-state document of protocol.Desired (the node's pods
// and the ConfigMaps and Secrets they use), fed by one datastore watch of
// /registry/ for all nodes rather than Kubernetes watches per node, and it
// applies the status batches agents send (pod and node status, events,
// finished deletions) through the API server over loopback.
//
// It must not import agent/; transports (protocol/httpsync, MQTT) call
// it through protocol.Hub.
package synchub
