// Package join gives an agent its identity: it checks the server's CA
// against the join token's hash before sending the token, creates the
// node's key and password, asks the server for a node certificate
// (system:node:<name>), keeps them under <data-dir>/agent/cred, and
// renews the certificate before it expires. A node that has joined once
// starts from these files with no network.
//
// It must not import server/.
package join
