// Package defaults fills in the fields kube-apiserver fills in before it
// stores an object, so that what skiff stores and returns reads the same as
// what a real cluster would: restartPolicy, imagePullPolicy, strategy
// settings, port protocols and the rest of the SetDefaults_* behaviour of
// k8s.io/kubernetes/pkg/apis/*/v1, plus the few normalisations kube performs
// while converting to and from its internal types (serviceAccount sync,
// Secret stringData folding, Service clusterIPs).
//
// It is pure: it works on typed k8s.io/api objects in memory, does no I/O and
// keeps no state. Allocation (cluster IPs, node ports), UIDs, status and
// admission (service accounts, priority) belong to the API server, not here.
// It must not import k8s.io/kubernetes or anything under server/ or agent/.
package defaults
