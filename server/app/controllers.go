package app

import (
	"context"

	"golang.org/x/sync/errgroup"
	"k8s.io/klog/v2"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// controllerContext is what every housekeeping controller gets: a client
// of this server's own API over loopback, authenticated as system:admin.
type controllerContext struct {
	Config *rest.Config
	Client kubernetes.Interface
	// CACertPEM is the cluster CA, for the kube-root-ca.crt ConfigMaps.
	CACertPEM []byte
}

// controller is one housekeeping loop; Run returns when ctx ends.
type controller struct {
	name string
	run  func(ctx context.Context, cc controllerContext) error
}

// controllers run inside `skiff server` (kube-controller-manager's role).
// With several servers on one etcd only the elected leader runs them.
var controllers = []controller{
	// Each controller adds one entry here.
}

// startControllers starts every controller under g.
func startControllers(ctx context.Context, g *errgroup.Group, cfg *rest.Config, caPEM []byte) error {
	if len(controllers) == 0 {
		return nil
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	cc := controllerContext{Config: cfg, Client: client, CACertPEM: caPEM}
	for _, c := range controllers {
		c := c
		g.Go(func() error {
			klog.InfoS("starting controller", "name", c.name)
			return c.run(ctx, cc)
		})
	}
	return nil
}
