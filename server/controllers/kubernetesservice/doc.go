// Package kubernetesservice keeps the `kubernetes` Service in the default
// namespace, its Endpoints and its EndpointSlice pointing at the API
// server, so that in-cluster clients find the API at the Service's
// ClusterIP (the first address of the service CIDR), port 443.
//
// It talks to the API through client-go only and writes nothing while the
// objects are already right.
package kubernetesservice
