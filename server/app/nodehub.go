package app

import (
	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/storage"
	"github.com/skiff-io/skiff/server/synchub"
	"k8s.io/client-go/rest"
)

// newNodeHub builds the node sync hub: it reads the datastore and writes
// node status, pod status, events and Leases through the server's own API
// over loopback. Its index is also what the node authorizer reads.
func newNodeHub(store *storage.Store, loopback *rest.Config) (*synchub.Hub, error) {
	client, err := kubeclient.NewForConfig(loopback)
	if err != nil {
		return nil, err
	}
	return synchub.New(store, hubAPI{client}), nil
}

// hubAPI gives the kubeclient's typed clients the hub's interface types.
type hubAPI struct{ cs *kubeclient.Clientset }

func (a hubAPI) Pods(namespace string) synchub.PodClient { return a.cs.Pods(namespace) }
func (a hubAPI) Nodes() synchub.NodeClient               { return a.cs.Nodes() }
func (a hubAPI) Events(namespace string) synchub.EventClient {
	return a.cs.Events(namespace)
}
func (a hubAPI) Leases(namespace string) synchub.LeaseClient { return a.cs.Leases(namespace) }
