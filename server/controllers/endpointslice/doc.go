// Package endpointslice keeps the discovery.k8s.io/v1 EndpointSlices of
// Services, as kube-controller-manager's two controllers do:
//
//   - the EndpointSlice controller (New) writes, for every Service with a
//     selector, slices of at most 100 endpoints listing the pods it selects
//     with their ready/serving/terminating conditions, node, zone and
//     resolved ports, labelled kubernetes.io/service-name and managed by
//     endpointslice-controller.k8s.io;
//   - the mirroring controller (NewMirroring) copies the hand-written
//     Endpoints of Services without a selector into slices managed by
//     endpointslicemirroring-controller.k8s.io (Endpoints labelled
//     endpointslice.kubernetes.io/skip-mirror=true, such as the
//     `kubernetes` Service's, are left alone).
//
// FromPods, FromEndpoints and Plan are pure; the loops talk to the API
// through server/kubeclient only and must not import storage, the
// apiserver or anything under agent/.
package endpointslice
