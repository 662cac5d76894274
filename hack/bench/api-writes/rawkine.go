package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/skiff-io/skiff/hack/bench/internal/skiffproc"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// storedConfigMap is a ConfigMap as skiff would store it: apiVersion and
// kind set, no resourceVersion, a uid, a creation time and the managed
// fields entry of an Update by one manager.
func storedConfigMap(ns, name string, created metav1.Time) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: types.UID(uuid.NewUUID()), CreationTimestamp: created,
			ManagedFields: []metav1.ManagedFieldsEntry{{
				Manager: "api-writes-bench", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
				Time: &created, FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{".":{},"f:payload":{}}}`)},
			}},
		},
		Data: map[string]string{"payload": payload()},
	}
}

// kineWritesWatched is kineWrites while a watch on /registry/ is open and
// drained, as skiff's own controllers hold one.
func kineWritesWatched(ctx context.Context, k *skiffproc.Kine, ns string, n, conc int) (run, error) {
	wctx, cancel := context.WithCancel(ctx)
	wch := k.Client.Watch(wctx, "/registry/", clientv3.WithPrefix())
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range wch {
		}
	}()
	r, err := kineWrites(ctx, k, ns, n, conc)
	cancel()
	<-drained
	return r, err
}

// kineWrites makes the writes skiffWrites makes, straight to kine, with
// the transactions skiff's storage package uses.
func kineWrites(ctx context.Context, k *skiffproc.Kine, ns string, n, conc int) (run, error) {
	objs := make([]*corev1.ConfigMap, n)
	revs := make([]int64, n)
	var r run
	var err error
	cpu0 := selfCPU()

	err = measureWrites(os.Getpid(), &r.createWriteBytes, func() (err error) {
		r.create, err = runPhase(ctx, n, conc, func(ctx context.Context, i int) error {
			cm := storedConfigMap(ns, cmName(i), metav1.Now())
			b, err := json.Marshal(cm)
			if err != nil {
				return err
			}
			key := configMapKey(ns, cm.Name)
			resp, err := k.Client.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
				Then(clientv3.OpPut(key, string(b))).
				Commit()
			if err != nil {
				return err
			}
			if !resp.Succeeded {
				return fmt.Errorf("%s already exists", key)
			}
			objs[i], revs[i] = cm, resp.Header.Revision
			return nil
		})
		return err
	})
	if err != nil {
		return run{}, fmt.Errorf("create: %w", err)
	}
	r.update, err = runPhase(ctx, n, conc, func(ctx context.Context, i int) error {
		cm := objs[i]
		cm.Data["payload"] = payload()
		b, err := json.Marshal(cm)
		if err != nil {
			return err
		}
		key := configMapKey(ns, cm.Name)
		resp, err := k.Client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", revs[i])).
			Then(clientv3.OpPut(key, string(b))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return err
		}
		if !resp.Succeeded {
			return fmt.Errorf("%s: revision conflict", key)
		}
		return nil
	})
	if err != nil {
		return run{}, fmt.Errorf("update: %w", err)
	}
	r.cpu = selfCPU() - cpu0
	return r, nil
}

// storedValueSize reads one key through an etcd endpoint.
func storedValueSize(ctx context.Context, endpoint, key string) (int, error) {
	c, err := skiffproc.NewEtcdClient([]string{endpoint})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) == 0 {
		return 0, fmt.Errorf("%s not found", key)
	}
	return len(resp.Kvs[0].Value), nil
}
