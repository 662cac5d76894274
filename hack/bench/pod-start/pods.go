package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// testImage is the image the agent imports from its images directory at
// start (built by tests/testimage); pods never pull it.
const testImage = "docker.io/library/busybox:latest"

// podSet is n pods in their own namespace, created and deleted
// concurrently, timed through one watch on the namespace's pods.
type podSet struct {
	api  kubernetes.Interface
	ns   string
	n    int
	conc int
	node string // spec.nodeName, or "" to leave the choice to the scheduler
	uids *uidSet
	// interval, when set, paces the create calls: call i starts no
	// earlier than i×interval after the first.
	interval time.Duration

	w          watch.Interface
	createdAt  []time.Time // when each create call started
	boundAt    []time.Time // watch event that first showed spec.nodeName (the create itself when set)
	reportedAt []time.Time // watch event that first showed status from the agent (hostIP or container statuses)
	runningAt  []time.Time // watch event that first showed it Running
	deletingAt []time.Time // when each delete call started
	goneAt     []time.Time // watch event DELETED
}

// uidSet collects the UIDs of every pod created, for the cleanup.
type uidSet struct {
	mu   sync.Mutex
	uids []string
}

func (u *uidSet) add(uid string) {
	u.mu.Lock()
	u.uids = append(u.uids, uid)
	u.mu.Unlock()
}

func (u *uidSet) all() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string{}, u.uids...)
}

func podName(i int) string { return fmt.Sprintf("p-%03d", i) }

func podIndex(name string) int {
	var i int
	if _, err := fmt.Sscanf(name, "p-%03d", &i); err != nil {
		return -1
	}
	return i
}

// newPodSet creates the namespace, waits for its default ServiceAccount
// (pods are refused until it exists) and opens the watch.
func newPodSet(ctx context.Context, api kubernetes.Interface, ns string, n, conc int, node string, uids *uidSet) (*podSet, error) {
	if _, err := api.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	err := until(ctx, 30*time.Second, "the default ServiceAccount in "+ns, func() (bool, error) {
		_, err := api.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return nil, err
	}
	list, err := api.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	w, err := api.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		return nil, err
	}
	return &podSet{
		api: api, ns: ns, n: n, conc: conc, node: node, uids: uids, w: w,
		createdAt: make([]time.Time, n), runningAt: make([]time.Time, n),
		boundAt: make([]time.Time, n), reportedAt: make([]time.Time, n),
		deletingAt: make([]time.Time, n), goneAt: make([]time.Time, n),
	}, nil
}

func (s *podSet) close() { s.w.Stop() }

// pod is the benchmark's pod: one container that sleeps and exits at
// once on SIGTERM, so deleting it measures the agent, not a grace period.
func (s *podSet) pod(i int) *corev1.Pod {
	grace := int64(10)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName(i), Labels: map[string]string{"bench": "pod-start"}},
		Spec: corev1.PodSpec{
			NodeName:                      s.node,
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:            "c",
				Image:           testImage,
				ImagePullPolicy: corev1.PullNever,
				Command:         []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"},
			}},
		},
	}
}

// running is the pod Running with every container running.
func running(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

// create creates the n pods from conc goroutines and waits until the
// watch has shown every one Running.
func (s *podSet) create(ctx context.Context, timeout time.Duration) error {
	errc := make(chan error, 1)
	begin := time.Now()
	go func() {
		errc <- parallel(ctx, s.n, s.conc, func(i int) error {
			if s.interval > 0 {
				if err := pause(ctx, time.Until(begin.Add(time.Duration(i)*s.interval))); err != nil {
					return err
				}
			}
			s.createdAt[i] = time.Now()
			p, err := s.api.CoreV1().Pods(s.ns).Create(ctx, s.pod(i), metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create %s/%s: %w", s.ns, podName(i), err)
			}
			s.uids.add(string(p.UID))
			return nil
		})
	}()
	left := s.n
	last := map[string]string{} // latest state per pod, for the timeout message
	err := s.consume(ctx, timeout, errc, func() bool { return left == 0 }, func(ev watch.Event, at time.Time) error {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return nil
		}
		i := podIndex(p.Name)
		if i < 0 || i >= s.n {
			return nil
		}
		last[p.Name] = describe(p)
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return fmt.Errorf("pod %s/%s ended: %s", s.ns, p.Name, describe(p))
		}
		if s.boundAt[i].IsZero() && p.Spec.NodeName != "" {
			s.boundAt[i] = at
		}
		if s.reportedAt[i].IsZero() && (p.Status.HostIP != "" || len(p.Status.ContainerStatuses) > 0) {
			s.reportedAt[i] = at
		}
		if s.runningAt[i].IsZero() && running(p) {
			s.runningAt[i] = at
			left--
		}
		return nil
	})
	if err != nil && left > 0 {
		return fmt.Errorf("%w; %d of %d pods not Running; e.g. %s", err, left, s.n, notRunning(s, last))
	}
	return err
}

// delete deletes the n pods from conc goroutines and waits until the
// watch has reported every one gone.
func (s *podSet) delete(ctx context.Context, timeout time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		errc <- parallel(ctx, s.n, s.conc, func(i int) error {
			s.deletingAt[i] = time.Now()
			err := s.api.CoreV1().Pods(s.ns).Delete(ctx, podName(i), metav1.DeleteOptions{})
			if err != nil {
				return fmt.Errorf("delete %s/%s: %w", s.ns, podName(i), err)
			}
			return nil
		})
	}()
	left := s.n
	return s.consume(ctx, timeout, errc, func() bool { return left == 0 }, func(ev watch.Event, at time.Time) error {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || ev.Type != watch.Deleted {
			return nil
		}
		if i := podIndex(p.Name); i >= 0 && i < s.n && s.goneAt[i].IsZero() {
			s.goneAt[i] = at
			left--
		}
		return nil
	})
}

// consume feeds watch events to f, stamped with the time they arrived,
// until done() holds and the client goroutines (errc) have finished.
func (s *podSet) consume(ctx context.Context, timeout time.Duration, errc <-chan error, done func() bool, f func(watch.Event, time.Time) error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	clientsDone := false
	for !(clientsDone && done()) {
		select {
		case ev, ok := <-s.w.ResultChan():
			at := time.Now()
			if !ok {
				return errors.New("the pod watch closed")
			}
			if ev.Type == watch.Error {
				return fmt.Errorf("pod watch: %v", apierrors.FromObject(ev.Object))
			}
			if err := f(ev, at); err != nil {
				return err
			}
		case err := <-errc:
			if err != nil {
				return err
			}
			clientsDone = true
		case <-deadline.C:
			return fmt.Errorf("not done after %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func describe(p *corev1.Pod) string {
	s := string(p.Status.Phase)
	if p.Spec.NodeName == "" {
		s += ", not scheduled"
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			s += ", waiting: " + w.Reason + " " + w.Message
		}
	}
	return s
}

func notRunning(s *podSet, last map[string]string) string {
	for i := 0; i < s.n; i++ {
		if s.runningAt[i].IsZero() {
			st, ok := last[podName(i)]
			if !ok {
				st = "no watch event"
			}
			return podName(i) + ": " + st
		}
	}
	return "?"
}

// startStats are a podSet's create → Running figures.
type startStats struct {
	pods       int
	p50, p99   time.Duration
	max        time.Duration
	wall       time.Duration // first create call → last pod Running
	podsPerSec float64
	// p50s of the steps: create call → bound to the node (watch event),
	// bound → first status from the agent, first status → Running.
	bound, reported, started time.Duration
}

func (s *podSet) startStats() startStats {
	lat := make([]time.Duration, s.n)
	var bound, reported, started []time.Duration
	first, last := s.createdAt[0], s.runningAt[0]
	for i := range lat {
		lat[i] = s.runningAt[i].Sub(s.createdAt[i])
		// A step the watch did not show apart (events coalesced) counts
		// as taking no time.
		b, r := s.boundAt[i], s.reportedAt[i]
		if b.IsZero() || b.After(s.runningAt[i]) {
			b = s.runningAt[i]
		}
		if r.IsZero() || r.After(s.runningAt[i]) {
			r = s.runningAt[i]
		}
		if r.Before(b) {
			r = b
		}
		bound = append(bound, b.Sub(s.createdAt[i]))
		reported = append(reported, r.Sub(b))
		started = append(started, s.runningAt[i].Sub(r))
		if s.createdAt[i].Before(first) {
			first = s.createdAt[i]
		}
		if s.runningAt[i].After(last) {
			last = s.runningAt[i]
		}
	}
	wall := last.Sub(first)
	return startStats{
		pods: s.n, p50: percentile(lat, 50), p99: percentile(lat, 99), max: percentile(lat, 100),
		wall: wall, podsPerSec: float64(s.n) / wall.Seconds(),
		bound: percentile(bound, 50), reported: percentile(reported, 50), started: percentile(started, 50),
	}
}

// deleteStats are a podSet's delete → gone figures.
type deleteStats struct {
	p50, p99, max time.Duration
	wall          time.Duration // first delete call → last pod gone
}

func (s *podSet) deleteStats() deleteStats {
	lat := make([]time.Duration, s.n)
	first, last := s.deletingAt[0], s.goneAt[0]
	for i := range lat {
		lat[i] = s.goneAt[i].Sub(s.deletingAt[i])
		if s.deletingAt[i].Before(first) {
			first = s.deletingAt[i]
		}
		if s.goneAt[i].After(last) {
			last = s.goneAt[i]
		}
	}
	return deleteStats{p50: percentile(lat, 50), p99: percentile(lat, 99), max: percentile(lat, 100), wall: last.Sub(first)}
}

// percentile is the nearest-rank percentile p (0 < p ≤ 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(float64(len(s))*p/100+0.999999) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(s) {
		rank = len(s) - 1
	}
	return s[rank]
}

// parallel runs f(0..n-1) with conc calls in flight and returns the first
// error.
func parallel(ctx context.Context, n, conc int, f func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// pause waits d (nothing when d ≤ 0) or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// until polls cond every 100 ms until it holds, fails, or timeout passes.
func until(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%s: not there after %s", what, timeout)
		case <-tick.C:
		}
	}
}
