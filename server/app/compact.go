package app

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/klog/v2"
)

// runCompactor compacts an external etcd the way kube-apiserver does: every
// interval, to the revision seen one interval ago, so watchers always have
// at least one interval of history. Embedded kine compacts itself.
func runCompactor(ctx context.Context, c *clientv3.Client, interval time.Duration) error {
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		resp, err := c.Get(ctx, "compact_rev_key", clientv3.WithCountOnly())
		if err != nil {
			klog.ErrorS(err, "compaction: reading revision")
			continue
		}
		if last > 0 {
			if _, err := c.Compact(ctx, last); err != nil {
				klog.ErrorS(err, "compaction failed", "revision", last)
			}
		}
		last = resp.Header.Revision
	}
}
