// Package nodejoin admits agents: it serves the cluster CA at /cacerts
// (which an agent checks against its join token's hash before it trusts
// the server), and at /skiff/v1/join it checks the token and the node's
// password, registers the Node with a pod CIDR, and signs the node's own
// client certificate (system:node:<name> in system:nodes).
//
// It must not import agent/.
package nodejoin
