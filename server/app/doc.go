// Package app wires the control plane together: credentials, datastore,
// API server, bootstrap objects and the background loops, each started
// under one errgroup and stopped by cancelling its context.
//
// All flag parsing happens in server/cmd; app receives a filled Config.
package app
