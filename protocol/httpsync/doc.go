// Package httpsync carries the sync protocol over HTTPS: the agent always
// dials the server (nodes sit behind NAT). Desired state is a long poll
// (GET <node>/desired?since=R&wait=60s: 200 with a document, or 204 when
// nothing changed while the server waited); status is a POST of a batch
// answered with its ack. HTTP/2 keeps one connection per agent, so an
// idle node costs one small request a minute.
//
// It imports protocol only; the server wires Handler behind its TLS
// listener, the agent uses Client.
package httpsync
