package app

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/skiff-io/skiff/server/controllers/kubernetesservice"
	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/leaderelection"
	"github.com/skiff-io/skiff/server/metafeed"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// LeaderElection configures the choice of the one server that runs the
// controllers when several share a datastore. The defaults are
// kube-controller-manager's.
type LeaderElection struct {
	// Enabled is set when the datastore can be shared (external etcd or
	// SQL database). With embedded SQLite there is one server and no
	// election traffic at all: no Lease writes to wear the SD card.
	Enabled       bool
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	// Identity names this server in the Lease (default hostname_uuid).
	Identity string
}

// leaseName is the Lease in kube-system that the servers compete for.
const leaseName = "skiff-controllers"

// startControllers runs every controller under g: at once when there is no
// election, otherwise while this server holds the Lease.
func startControllers(ctx context.Context, g *errgroup.Group, cfg *rest.Config, caPEM []byte, api kubernetesservice.Config, feed metafeed.Source, le LeaderElection, tuning controllerTuning, dataDir string) error {
	if len(controllers) == 0 {
		return nil
	}
	client, err := kubeclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	cc := controllerContext{Config: cfg, Client: client, CACertPEM: caPEM, API: api, Metadata: feed, Tuning: tuning, DataDir: dataDir}
	if !le.Enabled {
		runAll(ctx, g, cc)
		return nil
	}
	if le.Identity == "" {
		host, _ := os.Hostname()
		le.Identity = host + "_" + string(uuid.NewUUID())
	}
	elect := leaderelection.Config{
		Leases:          client.Leases(metav1.NamespaceSystem),
		Name:            leaseName,
		Identity:        le.Identity,
		LeaseDuration:   le.LeaseDuration,
		RenewDeadline:   le.RenewDeadline,
		RetryPeriod:     le.RetryPeriod,
		ReleaseOnCancel: true,
		OnStartedLeading: func(lctx context.Context) {
			klog.InfoS("became leader: running controllers", "identity", le.Identity)
			lg, gctx := errgroup.WithContext(lctx)
			runAll(gctx, lg, cc)
			if err := lg.Wait(); err != nil {
				klog.ErrorS(err, "controllers stopped")
			}
		},
		OnStoppedLeading: func() {
			klog.InfoS("stopped leading: controllers stopped", "identity", le.Identity)
		},
		OnNewLeader: func(id string) {
			if id != le.Identity {
				klog.InfoS("another server leads the controllers", "leader", id)
			}
		},
	}
	if err := elect.Validate(); err != nil {
		return err
	}
	g.Go(func() error {
		// Leadership can be lost and won again; campaign until ctx ends.
		for ctx.Err() == nil {
			if err := leaderelection.Run(ctx, elect); err != nil {
				return err
			}
		}
		return nil
	})
	return nil
}

func runAll(ctx context.Context, g *errgroup.Group, cc controllerContext) {
	// One set of informers per term: an informer stopped with the last
	// term's ctx cannot run again.
	cc.Informers = kubeclient.NewInformers(cc.Client)
	for _, c := range controllers {
		c := c
		if c.name == "scheduler" && cc.Tuning.DisableScheduler {
			klog.InfoS("not starting the scheduler (--disable-scheduler)")
			continue
		}
		cc := cc
		client, err := kubeclient.NewForConfig(controllerConfig(cc.Config, c.name))
		g.Go(func() error {
			if err != nil {
				return fmt.Errorf("controller %s: %w", c.name, err)
			}
			cc.Client = client
			klog.InfoS("starting controller", "name", c.name)
			return c.run(ctx, cc)
		})
	}
}

// podQPS and podBurst bound the API requests of the controllers a burst
// of new pods waits for: the scheduler (every pod it places costs a
// binding and an Event) and the ReplicaSet controller (a 1,000-replica
// Deployment is 1,000 creates). Their budget lets the datastore, not the
// client, set the rate: at the loopback client's 200/s the ReplicaSet
// controller's creates paced a 1,000-replica Deployment. The client is in
// process, so the API's handler pool, not the network, is what holds a
// burst back. The other controllers keep the loopback client's.
const (
	podQPS   = 2000
	podBurst = 4000
)

// podControllers are the controllers with the podQPS budget.
var podControllers = map[string]bool{"scheduler": true, "replicaset": true}

// controllerConfig is the client configuration of one controller. Each
// controller gets its own rate limiter, as kube-controller-manager gives
// each of its controllers its own client: a controller that is busy (a
// ReplicaSet creating a thousand pods) does not hold back the others (the
// scheduler binding them). The connection to the API is still shared.
func controllerConfig(cfg *rest.Config, name string) *rest.Config {
	cfg = withUserAgent(cfg, cfg.UserAgent+"/"+name)
	cfg.RateLimiter = nil
	if podControllers[name] {
		cfg.QPS, cfg.Burst = podQPS, podBurst
	}
	return cfg
}
