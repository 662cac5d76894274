package app

import (
	"context"
	"net/http"

	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/protocol/httpsync"
	"github.com/skiff-io/skiff/protocol/tunnel"
	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/nodejoin"
	"github.com/skiff-io/skiff/server/synchub"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// withNodeSync routes the node paths (CA, join, sync) to their handlers
// and everything else to the Kubernetes API.
func withNodeSync(api http.Handler, join *nodejoin.Handler, hub *synchub.Hub, tunnels *tunnel.Hub) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(protocol.PathCACerts, join.ServeCACerts)
	mux.HandleFunc(protocol.PathJoin, join.ServeJoin)
	mux.Handle(protocol.PathNodes, httpsync.Handler(hub, tunnel.NodeFromRequest))
	mux.Handle(tunnel.Path, tunnels)
	mux.Handle("/", api)
	return mux
}

// hubAPI adapts the loopback client to what the hub writes through.
type hubAPI struct{ cs *kubeclient.Clientset }

func (a hubAPI) Pods(ns string) synchub.PodClient     { return hubPods{a.cs.Pods(ns), a.cs, ns} }
func (a hubAPI) Nodes() synchub.NodeClient            { return a.cs.Nodes() }
func (a hubAPI) Events(ns string) synchub.EventClient { return hubEvents{a.cs.Events(ns), a.cs, ns} }
func (a hubAPI) Leases(ns string) synchub.LeaseClient { return a.cs.Leases(ns) }
func (a hubAPI) PersistentVolumes() synchub.VolumeClient {
	return a.cs.PersistentVolumes()
}

// hubPods and hubEvents write without decoding the server's answers.
type hubPods struct {
	kubeclient.PodClient
	cs *kubeclient.Clientset
	ns string
}

func (p hubPods) WriteStatus(ctx context.Context, pod *corev1.Pod, opts metav1.UpdateOptions) error {
	return p.cs.WritePodStatus(ctx, p.ns, pod, opts)
}

type hubEvents struct {
	kubeclient.EventClient
	cs *kubeclient.Clientset
	ns string
}

func (e hubEvents) Write(ctx context.Context, ev *corev1.Event, opts metav1.CreateOptions) error {
	return e.cs.WriteEvent(ctx, e.ns, ev, opts)
}

// joinAPI adapts the loopback client to what the join endpoint needs.
type joinAPI struct{ cs *kubeclient.Clientset }

func (a joinAPI) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	return a.cs.Nodes().Get(ctx, name, metav1.GetOptions{})
}
func (a joinAPI) CreateNode(ctx context.Context, n *corev1.Node) (*corev1.Node, error) {
	return a.cs.Nodes().Create(ctx, n, metav1.CreateOptions{FieldManager: "skiff-join"})
}
func (a joinAPI) UpdateNode(ctx context.Context, n *corev1.Node) (*corev1.Node, error) {
	return a.cs.Nodes().Update(ctx, n, metav1.UpdateOptions{FieldManager: "skiff-join"})
}
func (a joinAPI) ListNodes(ctx context.Context) ([]corev1.Node, error) {
	l, err := a.cs.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}
func (a joinAPI) GetSecret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return a.cs.Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}
func (a joinAPI) CreateSecret(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
	return a.cs.Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{FieldManager: "skiff-join"})
}
