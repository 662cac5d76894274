// Package apiserver serves the Kubernetes REST API over skiff's storage:
// discovery, OpenAPI, CRUD with resourceVersion preconditions, watch,
// patch (JSON, merge, strategic merge, server-side apply), subresources
// and server-side Tables, with errors as metav1.Status.
//
// It is built on k8s.io/api types and k8s.io/apimachinery, not on
// k8s.io/apiserver, to keep the server small. It talks to the datastore only
// through server/storage and must not import the agent.
package apiserver
