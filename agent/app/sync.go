package app

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/skiff-io/skiff/agent/store"
	"github.com/skiff-io/skiff/protocol"
	"github.com/skiff-io/skiff/protocol/httpsync"
	"k8s.io/klog/v2"
)

// backoff is a retry delay that doubles from min to max and resets on
// success. Each delay is drawn from the upper half of the current step:
// when the server restarts, every node of a fleet loses it in the same
// second, and with fixed steps they would all come back in the same
// seconds too, retry after retry.
type backoff struct{ cur, min, max time.Duration }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// desiredLoop long-polls the server for the node's desired document,
// stores each one and only then asks for the next (which acknowledges
// it), and hands the stored document to apply.
func desiredLoop(ctx context.Context, conn protocol.Conn, st *store.Store, wait time.Duration, apply func(context.Context) error) error {
	bo := backoff{min: time.Second, max: 30 * time.Second}
	online := true
	for ctx.Err() == nil {
		since, err := st.Revision(ctx)
		if err != nil {
			return err
		}
		doc, err := conn.Desired(ctx, since, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d := bo.next()
			if online || klog.V(2).Enabled() {
				klog.InfoS("cannot reach the server; pods keep running from the local store", "err", err, "retry", d)
			}
			online = false
			sleep(ctx, d)
			continue
		}
		if !online {
			klog.InfoS("reconnected to the server")
			online = true
		}
		bo.reset()
		if doc == nil {
			continue
		}
		if doc.Since != 0 && doc.Since != since {
			// Not a delta over what we hold: ask for the whole document.
			klog.InfoS("desired document is a delta over another revision; asking for it whole", "have", since, "delta", doc.Since)
			if err := st.Set(ctx, "desired.revision", "0"); err != nil {
				return err
			}
			continue
		}
		if err := st.Apply(ctx, doc); err != nil {
			return err
		}
		klog.V(2).InfoS("desired state stored", "revision", doc.Revision, "pods", len(doc.Pods), "whole", doc.Since == 0)
		if err := apply(ctx); err != nil {
			klog.ErrorS(err, "applying the desired state")
		}
	}
	return nil
}

// Outbox queues status durably and sends it in order.
type Outbox struct {
	st   *store.Store
	kick chan struct{}
}

func newOutbox(st *store.Store) *Outbox {
	return &Outbox{st: st, kick: make(chan struct{}, 1)}
}

// Put queues an item under key (latest wins for the same key).
func (o *Outbox) Put(ctx context.Context, key string, it protocol.StatusItem) error {
	if err := o.st.Enqueue(ctx, key, it); err != nil {
		return err
	}
	select {
	case o.kick <- struct{}{}:
	default:
	}
	return nil
}

// batchSize bounds the items sent in one request.
const batchSize = 100

// run sends pending items whenever there are some, in sequence order,
// and deletes them once the server has acknowledged them.
func (o *Outbox) run(ctx context.Context, conn protocol.Conn, node string) error {
	bo := backoff{min: time.Second, max: 30 * time.Second}
	for {
		items, err := o.st.Pending(ctx, batchSize)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(items) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-o.kick:
				continue
			}
		}
		ack, err := conn.Report(ctx, &protocol.StatusBatch{APIVersion: protocol.APIVersion, Node: node, Items: items})
		if err == nil && ack.Seq > 0 {
			if err := o.st.Ack(ctx, ack.Seq); err != nil {
				return err
			}
			bo.reset()
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("the server stored nothing")
		}
		d := bo.next()
		klog.V(2).InfoS("status not delivered yet; kept in the outbox", "items", len(items), "err", err, "retry", d)
		if httpsync.IsStatus(err, 400) {
			klog.ErrorS(err, "the server refuses a status batch")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
	}
}
