package kineconfig

import (
	"context"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// UseInProcessKV points c's reads and writes at the kine running in this
// process, when there is one: c then calls kine's KV service directly, with
// requests and responses passed as they are instead of encoded, framed and
// handed between goroutines. Errors are the service's own gRPC status
// errors, which the etcd client maps as it does for remote calls. Watches,
// leases and status calls, and RangeStream (which skiff does not use),
// still go through the socket.
func (b Backend) UseInProcessKV(c *clientv3.Client) {
	if b.KV == nil {
		return
	}
	remote := etcdserverpb.NewKVClient(c.ActiveConnection())
	c.KV = clientv3.NewKVFromKVClient(inProcessKV{KVClient: remote, s: b.KV}, c)
}

type inProcessKV struct {
	etcdserverpb.KVClient
	s etcdserverpb.KVServer
}

func (k inProcessKV) Range(ctx context.Context, in *etcdserverpb.RangeRequest, _ ...grpc.CallOption) (*etcdserverpb.RangeResponse, error) {
	return k.s.Range(ctx, in)
}

func (k inProcessKV) Put(ctx context.Context, in *etcdserverpb.PutRequest, _ ...grpc.CallOption) (*etcdserverpb.PutResponse, error) {
	return k.s.Put(ctx, in)
}

func (k inProcessKV) DeleteRange(ctx context.Context, in *etcdserverpb.DeleteRangeRequest, _ ...grpc.CallOption) (*etcdserverpb.DeleteRangeResponse, error) {
	return k.s.DeleteRange(ctx, in)
}

func (k inProcessKV) Txn(ctx context.Context, in *etcdserverpb.TxnRequest, _ ...grpc.CallOption) (*etcdserverpb.TxnResponse, error) {
	return k.s.Txn(ctx, in)
}

func (k inProcessKV) Compact(ctx context.Context, in *etcdserverpb.CompactionRequest, _ ...grpc.CallOption) (*etcdserverpb.CompactionResponse, error) {
	return k.s.Compact(ctx, in)
}
