package app

import (
	"context"
	"path/filepath"

	"github.com/skiff-io/skiff/server/controllers/cronjob"
	"github.com/skiff-io/skiff/server/controllers/daemonset"
	"github.com/skiff-io/skiff/server/controllers/deployment"
	"github.com/skiff-io/skiff/server/controllers/disruption"
	"github.com/skiff-io/skiff/server/controllers/endpoints"
	"github.com/skiff-io/skiff/server/controllers/endpointslice"
	"github.com/skiff-io/skiff/server/controllers/garbagecollector"
	"github.com/skiff-io/skiff/server/controllers/job"
	"github.com/skiff-io/skiff/server/controllers/kubernetesservice"
	"github.com/skiff-io/skiff/server/controllers/namespace"
	"github.com/skiff-io/skiff/server/controllers/nodelifecycle"
	"github.com/skiff-io/skiff/server/controllers/persistentvolume"
	"github.com/skiff-io/skiff/server/controllers/podgc"
	"github.com/skiff-io/skiff/server/controllers/replicaset"
	"github.com/skiff-io/skiff/server/controllers/scheduler"
	"github.com/skiff-io/skiff/server/controllers/serviceaccount"
	"github.com/skiff-io/skiff/server/controllers/statefulset"

	"github.com/skiff-io/skiff/server/kubeclient"
	"github.com/skiff-io/skiff/server/metafeed"
	"k8s.io/client-go/rest"
)

// controllerContext is what every housekeeping controller gets: a client
// of this server's own API, served in process as system:skiff-controller
// in system:masters (apiserver.InProcess).
type controllerContext struct {
	Config *rest.Config
	Client kubeclient.Interface
	// CACertPEM is the server CA, for the kube-root-ca.crt ConfigMaps.
	CACertPEM []byte
	// API is where clients reach this server: the kubernetes Service.
	API kubernetesservice.Config
	// Metadata follows every stored object's metadata straight from the
	// datastore (for the garbage collector).
	Metadata metafeed.Source
	// Tuning holds the controllers' settings from the server's flags.
	Tuning controllerTuning
	// DataDir is the server's --data-dir.
	DataDir string
	// Informers are shared by the controllers of one leadership term, so
	// that each object is decoded and cached once.
	Informers *kubeclient.Informers
}

// controllerTuning is what the server's flags set in the controllers.
type controllerTuning struct {
	// TerminatedPodGCThreshold: finished pods kept (<= 0: all).
	TerminatedPodGCThreshold int
	// DisableScheduler: the scheduler is not started.
	DisableScheduler bool
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
	{"namespace", func(ctx context.Context, cc controllerContext) error {
		c, err := namespace.NewForConfig(cc.Config, cc.Client)
		if err != nil {
			return err
		}
		return c.Run(ctx)
	}},
	{"serviceaccount", func(ctx context.Context, cc controllerContext) error {
		return serviceaccount.New(cc.Client, cc.CACertPEM).Run(ctx)
	}},
	{"garbage-collector", func(ctx context.Context, cc controllerContext) error {
		gc, err := garbagecollector.New(cc.Config, cc.Metadata, garbagecollector.Options{})
		if err != nil {
			return err
		}
		return gc.Run(ctx)
	}},
	{"kubernetes-service", func(ctx context.Context, cc controllerContext) error {
		return kubernetesservice.New(cc.API, cc.Client).Run(ctx)
	}},
	{"scheduler", func(ctx context.Context, cc controllerContext) error {
		return scheduler.New(cc.Client, scheduler.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"disruption", func(ctx context.Context, cc controllerContext) error {
		return disruption.New(cc.Client, disruption.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"job", func(ctx context.Context, cc controllerContext) error {
		return job.New(cc.Client, job.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"cronjob", func(ctx context.Context, cc controllerContext) error {
		return cronjob.New(cc.Client, cronjob.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"replicaset", func(ctx context.Context, cc controllerContext) error {
		return replicaset.New(cc.Client, replicaset.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"deployment", func(ctx context.Context, cc controllerContext) error {
		return deployment.New(cc.Client, deployment.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"daemonset", func(ctx context.Context, cc controllerContext) error {
		return daemonset.New(cc.Client, daemonset.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"statefulset", func(ctx context.Context, cc controllerContext) error {
		return statefulset.New(cc.Client, statefulset.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"endpoints", func(ctx context.Context, cc controllerContext) error {
		return endpoints.New(cc.Client, endpoints.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"endpointslice", func(ctx context.Context, cc controllerContext) error {
		return endpointslice.New(cc.Client, cc.Informers).Run(ctx)
	}},
	{"endpointslice-mirroring", func(ctx context.Context, cc controllerContext) error {
		return endpointslice.NewMirroring(cc.Client, cc.Informers).Run(ctx)
	}},
	{"node-lifecycle", func(ctx context.Context, cc controllerContext) error {
		return nodelifecycle.New(cc.Client, nodelifecycle.Options{Informers: cc.Informers}).Run(ctx)
	}},
	{"pod-gc", func(ctx context.Context, cc controllerContext) error {
		threshold := cc.Tuning.TerminatedPodGCThreshold
		if threshold <= 0 {
			threshold = -1 // keep them all
		}
		return podgc.New(cc.Client, podgc.Options{Threshold: threshold, Informers: cc.Informers}).Run(ctx)
	}},
	{"persistentvolume", func(ctx context.Context, cc controllerContext) error {
		// As k3s's default local storage path: <data-dir>/storage.
		dir, err := filepath.Abs(filepath.Join(cc.DataDir, "storage"))
		if err != nil {
			return err
		}
		return persistentvolume.New(cc.Client, persistentvolume.Options{StorageDir: dir, Informers: cc.Informers}).Run(ctx)
	}},
}
