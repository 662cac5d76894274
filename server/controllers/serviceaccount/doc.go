// Package serviceaccount keeps two objects in every active namespace, as
// kube-controller-manager's serviceaccount and root-ca-cert-publisher
// controllers do: the "default" ServiceAccount, recreated when deleted,
// and the "kube-root-ca.crt" ConfigMap holding the cluster CA, put back
// when deleted or changed.
//
// It watches only those objects (field selectors on metadata.name) and
// writes through the server's HTTP API. It must not import storage, the
// apiserver or the agent.
package serviceaccount
