package scheduler

import (
	"container/heap"

	"k8s.io/client-go/util/workqueue"
)

// priorityQueue orders the work queue's ready keys: higher pod priority
// first, then first come first served. It is the workqueue's inner queue
// (workqueue.Queue), so dedup, processing and rate limiting stay
// client-go's; its methods run under the workqueue's lock.
type priorityQueue struct {
	// priority looks up a key's pod priority when it is pushed (pod
	// priority is immutable).
	priority func(key string) int32
	items    prioHeap
	seq      uint64
}

var _ workqueue.Queue[string] = (*priorityQueue)(nil)

type prioItem struct {
	key      string
	priority int32
	seq      uint64
}

type prioHeap []prioItem

func (h prioHeap) Len() int { return len(h) }
func (h prioHeap) Less(i, j int) bool {
	if h[i].priority != h[j].priority {
		return h[i].priority > h[j].priority
	}
	return h[i].seq < h[j].seq
}
func (h prioHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *prioHeap) Push(x any)   { *h = append(*h, x.(prioItem)) }
func (h *prioHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func (q *priorityQueue) Touch(string) {}

func (q *priorityQueue) Push(key string) {
	q.seq++
	heap.Push(&q.items, prioItem{key: key, priority: q.priority(key), seq: q.seq})
}

func (q *priorityQueue) Len() int { return len(q.items) }

func (q *priorityQueue) Pop() string {
	it := heap.Pop(&q.items).(prioItem)
	if len(q.items) == 0 && cap(q.items) > 1024 {
		q.items = nil // let a drained burst's array go
	}
	return it.key
}
