package kineconfig

import (
	"context"
	"io"
	"sync"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Service is the part of kine's etcd API that a client in the same process
// calls directly.
type Service interface {
	etcdserverpb.KVServer
	etcdserverpb.WatchServer
}

// UseInProcess points c's reads, writes and watches at the kine running in
// this process, when there is one. c then calls kine's services directly:
// requests, responses and watch events are passed as Go values instead of
// being encoded, framed, written to the socket and read back. Errors are
// the services' own gRPC status errors, which the etcd client maps as it
// does for remote calls. Leases, status calls and RangeStream (which skiff
// does not use) still go through the socket, which etcdctl shares.
func (b Backend) UseInProcess(c *clientv3.Client) {
	if b.Service == nil {
		return
	}
	remote := etcdserverpb.NewKVClient(c.ActiveConnection())
	c.KV = clientv3.NewKVFromKVClient(inProcessKV{KVClient: remote, s: b.Service}, c)
	c.Watcher = clientv3.NewWatchFromWatchClient(inProcessWatch{s: b.Service}, c)
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

// inProcessWatch opens watch streams served by a WatchServer in this
// process, each a pair of channels in place of an HTTP/2 stream.
type inProcessWatch struct{ s etcdserverpb.WatchServer }

// Watch starts the service's handler for a new stream, as a gRPC server
// does for each stream a client opens. The stream ends when ctx ends or
// the handler returns.
func (w inProcessWatch) Watch(ctx context.Context, _ ...grpc.CallOption) (etcdserverpb.Watch_WatchClient, error) {
	sctx, cancel := context.WithCancel(ctx)
	// The handler sees the client's metadata as incoming, as over gRPC.
	if md, ok := metadata.FromOutgoingContext(ctx); ok {
		sctx = metadata.NewIncomingContext(sctx, md)
	}
	p := &watchPipe{
		clientCtx: ctx,
		serverCtx: sctx,
		queued:    make(chan struct{}, 1),
		resps:     make(chan *etcdserverpb.WatchResponse),
		sendDone:  make(chan struct{}),
		done:      make(chan struct{}),
	}
	go func() {
		err := w.s.Watch(watchServerEnd{p})
		p.err = err
		close(p.done)
		// As a gRPC server does when a handler returns: anything the
		// handler started on the stream's context stops.
		cancel()
	}()
	return watchClientEnd{p}, nil
}

// watchPipe is one in-process watch stream.
//
// Requests queue without bound, as over gRPC, where flow control lets a
// request through while the other direction is full: the etcd client's
// stream loop both sends requests and hands received responses on, and
// kine's handler holds a lock while it sends, so a request that waited for
// the handler could wait forever. Requests are few (create, cancel,
// progress), so the queue stays short.
//
// Responses are unbuffered: a response the handler sent has been received
// before the handler can return, so the client's Recv never misses one
// when it sees done.
type watchPipe struct {
	clientCtx, serverCtx context.Context

	mu     sync.Mutex
	reqs   []*etcdserverpb.WatchRequest // under mu
	queued chan struct{}                // signalled after a request is queued

	resps     chan *etcdserverpb.WatchResponse
	closeSend sync.Once
	sendDone  chan struct{} // closed by CloseSend
	done      chan struct{} // closed when the handler returned
	err       error         // the handler's result, once done
}

// next takes the oldest queued request, if any.
func (p *watchPipe) next() (*etcdserverpb.WatchRequest, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reqs) == 0 {
		return nil, false
	}
	r := p.reqs[0]
	p.reqs[0] = nil
	p.reqs = p.reqs[1:]
	return r, true
}

// ctxErr is how gRPC reports a stream whose context ended.
func ctxErr(ctx context.Context) error { return status.FromContextError(ctx.Err()).Err() }

// watchClientEnd is the client's side: Send requests, Recv responses.
type watchClientEnd struct{ p *watchPipe }

func (c watchClientEnd) Send(req *etcdserverpb.WatchRequest) error {
	select {
	case <-c.p.done:
		return io.EOF // gRPC's answer; Recv gives the stream's status
	default:
	}
	if c.p.clientCtx.Err() != nil {
		return ctxErr(c.p.clientCtx)
	}
	c.p.mu.Lock()
	c.p.reqs = append(c.p.reqs, req)
	c.p.mu.Unlock()
	select {
	case c.p.queued <- struct{}{}:
	default: // already signalled
	}
	return nil
}

func (c watchClientEnd) Recv() (*etcdserverpb.WatchResponse, error) {
	select {
	case r := <-c.p.resps:
		return r, nil
	case <-c.p.done:
		if c.p.err != nil {
			return nil, c.p.err
		}
		return nil, io.EOF
	case <-c.p.clientCtx.Done():
		return nil, ctxErr(c.p.clientCtx)
	}
}

func (c watchClientEnd) CloseSend() error {
	c.p.closeSend.Do(func() { close(c.p.sendDone) })
	return nil
}

func (c watchClientEnd) Header() (metadata.MD, error) { return nil, nil }
func (c watchClientEnd) Trailer() metadata.MD         { return nil }
func (c watchClientEnd) Context() context.Context     { return c.p.clientCtx }
func (c watchClientEnd) SendMsg(m any) error          { return c.Send(m.(*etcdserverpb.WatchRequest)) }

func (c watchClientEnd) RecvMsg(m any) error {
	r, err := c.Recv()
	if err == nil {
		proto.Reset(m.(proto.Message))
		proto.Merge(m.(proto.Message), r)
	}
	return err
}

// watchServerEnd is the handler's side: Recv requests, Send responses.
type watchServerEnd struct{ p *watchPipe }

func (s watchServerEnd) Recv() (*etcdserverpb.WatchRequest, error) {
	for {
		if r, ok := s.p.next(); ok {
			return r, nil
		}
		select {
		case <-s.p.queued:
		case <-s.p.sendDone:
			// Requests sent before CloseSend come first.
			if r, ok := s.p.next(); ok {
				return r, nil
			}
			return nil, io.EOF
		case <-s.p.serverCtx.Done():
			return nil, ctxErr(s.p.serverCtx)
		}
	}
}

func (s watchServerEnd) Send(r *etcdserverpb.WatchResponse) error {
	select {
	case s.p.resps <- r:
		return nil
	case <-s.p.serverCtx.Done():
		return ctxErr(s.p.serverCtx)
	}
}

func (s watchServerEnd) SetHeader(metadata.MD) error  { return nil }
func (s watchServerEnd) SendHeader(metadata.MD) error { return nil }
func (s watchServerEnd) SetTrailer(metadata.MD)       {}
func (s watchServerEnd) Context() context.Context     { return s.p.serverCtx }
func (s watchServerEnd) SendMsg(m any) error          { return s.Send(m.(*etcdserverpb.WatchResponse)) }

func (s watchServerEnd) RecvMsg(m any) error {
	r, err := s.Recv()
	if err == nil {
		proto.Reset(m.(proto.Message))
		proto.Merge(m.(proto.Message), r)
	}
	return err
}
