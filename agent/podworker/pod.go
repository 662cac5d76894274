package podworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/skiff-io/skiff/agent/network"
	"github.com/skiff-io/skiff/agent/plan"
	"github.com/skiff-io/skiff/agent/podspec"
	"github.com/skiff-io/skiff/agent/runtime"
	"github.com/skiff-io/skiff/agent/volumes"
	"github.com/skiff-io/skiff/protocol"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// Back-off of image pulls and of pod set-up (volumes, network), as the
// kubelet backs off image pulls.
const (
	pullBackoffMin = 10 * time.Second
	pullBackoffMax = 300 * time.Second
)

// setupTimeout bounds one attempt at a pod's set-up (network, sandbox,
// volumes).
const setupTimeout = 2 * time.Minute

// pod is the worker of one pod.
type pod struct {
	w      *Worker
	orphan bool
	kick   chan struct{}

	mu       sync.Mutex
	spec     *corev1.Pod // the desired pod (kept after it leaves the document)
	deleting bool
	// known holds the ids of the pod's containers: found by the worker's
	// full listings (adoption) or created by this pod worker. A sync asks
	// containerd about these alone, so its cost does not grow with the
	// number of pods on the node.
	known map[string]bool
	// rejected: admission refused the pod (set before its first sync).
	rejected *plan.Rejection
	// done: its last reported phase is Succeeded or Failed, so its host
	// ports are free for other pods.
	done bool

	// Owned by the run goroutine.
	status     *corev1.PodStatus // last reported
	reported   []byte
	net        bool // network and volumes are set up
	released   bool // a finished pod's network and volumes are freed
	netns      string
	podIPs     []string
	volumes    *volumes.PodVolumes
	volsRV     string
	setupRetry time.Time
	setupFails int
	// setupWait says why the pod's set-up has not succeeded yet (its last
	// failure, or the claims it waits for); the pod's containers show it
	// in their ContainerCreating state.
	setupWait string
	// claimsWait is the last reason the pod's claims were not usable.
	claimsWait string
	waiting    map[string]plan.Waiting
	pullFails  map[string]int
	probes     *probes
	messages   map[string]string // termination message by instance ID
	// replacing holds the instances stopped because the pod's spec gave
	// their container another image (plan.Observed.Replacing), by ID.
	replacing map[string]bool
	finished  bool

	evMu    sync.Mutex
	events  map[string]*eventState // by outbox key, under evMu
	evNamed int64                  // the time in the last new event's name, under evMu
}

func newPod(w *Worker, p *corev1.Pod, orphan bool) *pod {
	pw := &pod{w: w, orphan: orphan, kick: make(chan struct{}, 1), spec: p, known: map[string]bool{},
		waiting: map[string]plan.Waiting{}, pullFails: map[string]int{}, messages: map[string]string{}, replacing: map[string]bool{},
		events: map[string]*eventState{}}
	pw.probes = newProbes(pw)
	if !orphan {
		st := p.Status.DeepCopy()
		pw.status = st
	}
	return pw
}

func (p *pod) poke() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// setDesired records the pod's desired object (nil: keep the last) and
// whether it is being deleted, and pokes the pod when either changed or
// force is set.
func (p *pod) setDesired(spec *corev1.Pod, deleting, force bool) {
	p.mu.Lock()
	changed := deleting != p.deleting || (spec != nil && spec != p.spec)
	if spec != nil {
		p.spec = spec
	}
	p.deleting = deleting
	p.mu.Unlock()
	if changed || force {
		p.poke()
	}
}

// reject marks the pod refused by admission, with the kubelet's event.
// It is called before the pod's worker runs.
func (p *pod) reject(r plan.Rejection) {
	p.mu.Lock()
	p.rejected = &r
	spec := p.spec
	p.mu.Unlock()
	if r.Event != "" {
		klog.InfoS("pod rejected", "pod", klog.KObj(spec), "reason", r.Reason, "message", r.Message)
		p.event(spec, "", corev1.EventTypeWarning, r.Reason, r.Event)
	}
}

// holdsPorts: the pod was admitted and has not finished, so its host
// ports are its own (a pod being deleted holds them until it has stopped).
func (p *pod) holdsPorts() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.orphan && p.rejected == nil && !p.done
}

func (p *pod) current() *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spec
}

func (p *pod) isDeleting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deleting
}

func (p *pod) run(ctx context.Context) {
	defer p.probes.stopAll()
	for {
		wake := p.sync(ctx)
		if p.finished || ctx.Err() != nil {
			return
		}
		if !p.wait(ctx, wake) {
			return
		}
	}
}

// wait returns when the pod is poked or at wake (never, when zero); false
// when ctx ended.
func (p *pod) wait(ctx context.Context, wake time.Time) bool {
	var timer <-chan time.Time
	if !wake.IsZero() {
		t := time.NewTimer(max(time.Until(wake), 10*time.Millisecond))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-p.kick:
	case <-timer:
	}
	return true
}

// sync brings the pod one step closer to what it should be and reports
// its status when it changed. It returns when to look again.
func (p *pod) sync(ctx context.Context) time.Time {
	p.mu.Lock()
	spec, deleting := p.spec, p.deleting
	p.mu.Unlock()
	var wake time.Time
	var holds []plan.Action
	for round := 0; round < 8; round++ {
		insts, err := p.instances(ctx)
		if err != nil {
			klog.ErrorS(err, "listing the pod's containers", "pod", klog.KObj(spec))
			return p.w.now().Add(5 * time.Second)
		}
		now := p.w.now()
		obs := p.observe(spec, insts, now)
		p.probes.follow(ctx, spec, insts)
		var acts []plan.Action
		acts, wake = plan.Plan(p.withStatus(spec), obs, deleting, now)
		acts, holds = splitHolds(acts)
		if kill := p.probes.unhealthy(); len(kill) > 0 {
			acts = append(acts, kill...)
		}
		if len(acts) == 0 {
			p.report(ctx, spec, obs, now, deleting)
			p.backOffEvents(spec, holds)
			return earliest(wake, p.probes.nextWake())
		}
		// Tell the server where the pod is (ContainerCreating,
		// PodInitializing…) before the slower steps.
		p.report(ctx, spec, obs, now, deleting)
		if !p.do(ctx, spec, acts) {
			p.report(ctx, spec, obs, now, deleting)
			break
		}
		if p.finished {
			return time.Time{}
		}
	}
	// The containers the last round held back are still held: what
	// failed or is left over was done to others.
	p.backOffEvents(spec, holds)
	return earliest(wake, p.w.now().Add(time.Second))
}

// splitHolds separates the containers Plan holds back in back-off from
// the steps to carry out.
func splitHolds(acts []plan.Action) (steps, holds []plan.Action) {
	for _, a := range acts {
		if a.Kind == plan.BackOff {
			holds = append(holds, a)
		} else {
			steps = append(steps, a)
		}
	}
	return steps, holds
}

// backOffEvents tells, with the kubelet's events, that a sync found
// containers still in back-off: once per sync, as the kubelet counts
// them, and no more often than backOffEventGap. A pull that has just
// failed (ErrImagePull, the status's reason for its first second) has
// had its events; other retries (CreateContainerConfigError…) are told
// by the Failed event of each attempt, as the kubelet tells them.
func (p *pod) backOffEvents(spec *corev1.Pod, holds []plan.Action) {
	for _, h := range holds {
		switch h.Reason {
		case plan.ReasonCrashLoopBackOff:
			p.backOffEvent(spec, h.Container, corev1.EventTypeWarning, "BackOff",
				fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", h.Container, spec.Name, spec.Namespace, spec.UID))
		case "ImagePullBackOff":
			p.backOffEvent(spec, h.Container, corev1.EventTypeNormal, "BackOff", fmt.Sprintf("Back-off pulling image %q", imageOf(spec, h.Container)))
			p.backOffEvent(spec, h.Container, corev1.EventTypeWarning, "Failed", "Error: ImagePullBackOff")
		}
	}
}

// withStatus is the pod with the status last reported, which plan uses
// as the previous status (transition times, start time).
func (p *pod) withStatus(spec *corev1.Pod) *corev1.Pod {
	if p.status == nil {
		return spec
	}
	c := *spec
	// The node's part is what it reported last; the conditions it does
	// not own (PodScheduled, readiness gates' own, DisruptionTarget) are
	// the server's, in the stored pod.
	c.Status = protocol.MergePodStatus(spec.Status, *p.status)
	return &c
}

func (p *pod) instances(ctx context.Context) ([]runtime.ContainerStatus, error) {
	p.mu.Lock()
	ids := make([]string, 0, len(p.known))
	for id := range p.known {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	out := make([]runtime.ContainerStatus, 0, len(ids))
	for _, id := range ids {
		st, err := p.w.rt.ContainerStatus(ctx, id)
		if errors.Is(err, runtime.ErrNotFound) {
			p.forget(id)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// adopt records containers of this pod that a full listing found.
func (p *pod) adopt(ids []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		p.known[id] = true
	}
}

func (p *pod) forget(id string) {
	p.mu.Lock()
	delete(p.known, id)
	delete(p.replacing, id)
	p.mu.Unlock()
}

func (p *pod) observe(spec *corev1.Pod, insts []runtime.ContainerStatus, now time.Time) plan.Observed {
	p.mu.Lock()
	rejected := p.rejected
	p.mu.Unlock()
	obs := plan.Observed{
		Rejected: rejected, Network: p.net, Released: p.released, PodIPs: p.podIPs, HostIP: p.w.cfg.NodeIP,
		Ready: map[string]bool{}, Started: map[string]bool{}, Waiting: map[string]plan.Waiting{},
	}
	if !p.net && p.setupWait != "" {
		for _, c := range append(append([]corev1.Container{}, spec.Spec.InitContainers...), spec.Spec.Containers...) {
			obs.Waiting[c.Name] = plan.Waiting{Reason: "ContainerCreating", Message: p.setupWait}
		}
	}
	for name, wt := range p.waiting {
		if wt.Reason == "ErrImagePull" && now.After(wt.Retry.Add(-p.pullDelay(name)).Add(time.Second)) {
			// The kubelet's words: the back-off, then the failed pull's
			// error, which the runtime words as "ErrImagePull: …".
			wt.Reason, wt.Message = "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q: %s", imageOf(spec, name), wt.Message)
		}
		obs.Waiting[name] = wt
	}
	for _, c := range insts {
		pc := plan.Container{ID: c.ID, Name: c.Name, Attempt: c.Attempt, BackoffFrom: c.BackoffFrom, Image: c.Image, ImageID: c.ImageID,
			Running:  c.State == runtime.StateRunning,
			Exited:   c.State == runtime.StateExited || c.State == runtime.StateUnknown || c.State == runtime.StateCreated,
			ExitCode: c.ExitCode, Reason: c.Reason, StartedAt: c.StartedAt, FinishedAt: c.FinishedAt}
		if c.State == runtime.StateCreated && pc.FinishedAt.IsZero() {
			// Created but never started (the agent died in between).
			pc.ExitCode, pc.Reason, pc.FinishedAt, pc.StartedAt = 128, "ContainerCannotRun", now, now
		}
		if pc.Exited {
			pc.Message = p.terminationMessage(spec, c)
		}
		obs.Instances = append(obs.Instances, pc)
		if pc.Running {
			obs.Ready[c.Name], obs.Started[c.Name] = p.probes.state(c.ID)
		}
	}
	p.mu.Lock()
	if len(p.replacing) > 0 {
		obs.Replacing = maps.Clone(p.replacing)
	}
	p.mu.Unlock()
	return obs
}

func imageOf(spec *corev1.Pod, name string) string {
	if c := containerSpec(spec, name); c != nil {
		return c.Image
	}
	return ""
}

func containerSpec(spec *corev1.Pod, name string) *corev1.Container {
	for i := range spec.Spec.InitContainers {
		if spec.Spec.InitContainers[i].Name == name {
			return &spec.Spec.InitContainers[i]
		}
	}
	for i := range spec.Spec.Containers {
		if spec.Spec.Containers[i].Name == name {
			return &spec.Spec.Containers[i]
		}
	}
	return nil
}

// terminationMessage reads what the container left in its termination
// message file, or the tail of its log when it failed and asked for that.
func (p *pod) terminationMessage(spec *corev1.Pod, c runtime.ContainerStatus) string {
	if m, ok := p.messages[c.ID]; ok {
		return m
	}
	m := p.w.vols.TerminationMessage(string(spec.UID), c.Name)
	if cs := containerSpec(spec, c.Name); m == "" && cs != nil && cs.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError && c.ExitCode != 0 {
		m = logTail(c.LogPath, 80, 2048)
	}
	p.messages[c.ID] = m
	return m
}

// do carries out actions; false when one failed and the pod should be
// looked at again later rather than at once.
func (p *pod) do(ctx context.Context, spec *corev1.Pod, acts []plan.Action) bool {
	// Stops run together: every container gets its grace period at once.
	var stops []plan.Action
	progress := true
	for _, a := range acts {
		switch a.Kind {
		case plan.Stop:
			stops = append(stops, a)
		case plan.SetupPod:
			if !p.setup(ctx, spec) {
				progress = false
			}
		case plan.Start:
			if !p.startContainer(ctx, spec, a) {
				progress = false
			}
		case plan.Remove:
			if err := p.w.rt.RemoveContainer(ctx, a.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				klog.ErrorS(err, "removing a container", "pod", klog.KObj(spec), "container", a.Container)
				progress = false
			} else {
				p.forget(a.ID)
			}
		case plan.TeardownPod:
			if !p.teardown(ctx, spec, false) {
				progress = false
			}
		case plan.ReleasePod:
			if p.teardown(ctx, spec, true) {
				p.released = true
			} else {
				progress = false
			}
		case plan.Gone:
			if !p.orphan {
				if err := p.w.out.Put(ctx, "gone/"+string(spec.UID), protocol.StatusItem{
					Kind: protocol.ItemPodGone, Namespace: spec.Namespace, Name: spec.Name, UID: spec.UID}); err != nil {
					klog.ErrorS(err, "queueing a pod's removal", "pod", klog.KObj(spec))
					return false
				}
			}
			p.finished = true
			return true
		}
	}
	if len(stops) > 0 {
		var wg sync.WaitGroup
		errs := make([]error, len(stops))
		for i, a := range stops {
			msg := fmt.Sprintf("Stopping container %s", a.Container)
			if a.Reason == plan.ReasonDefinitionChanged {
				msg = fmt.Sprintf("Container %s definition changed, will be restarted", a.Container)
				p.mu.Lock()
				p.replacing[a.ID] = true
				p.mu.Unlock()
			}
			p.event(spec, a.Container, corev1.EventTypeNormal, "Killing", msg)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = p.w.rt.StopContainer(ctx, a.ID, a.Grace)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			klog.ErrorS(err, "stopping containers", "pod", klog.KObj(spec))
			progress = false
		}
	}
	return progress
}

// setup gives the pod its network namespace, address and volumes.
func (p *pod) setup(ctx context.Context, spec *corev1.Pod) bool {
	now := p.w.now()
	if now.Before(p.setupRetry) {
		return false
	}
	fail := func(reason, msg string) bool {
		p.setupFails++
		d := pullBackoffMin << min(p.setupFails-1, 5)
		p.setupRetry = now.Add(min(d, pullBackoffMax))
		p.setupWait = msg
		p.event(spec, "", corev1.EventTypeWarning, reason, msg)
		klog.InfoS("pod set-up failed", "pod", klog.KObj(spec), "reason", reason, "message", msg, "retry", p.setupRetry.Sub(now))
		return false
	}
	if err := volumes.ClaimsReady(spec, p.w.sources()); err != nil {
		// Not a failure to back off from: the claim binds moments after
		// the pod is scheduled, and the desired document's change pokes
		// the pod again.
		msg := "Unable to attach or mount volumes: " + err.Error()
		if msg != p.claimsWait {
			p.claimsWait = msg
			p.event(spec, "", corev1.EventTypeWarning, "FailedMount", msg)
		}
		p.setupWait = msg
		return false
	}
	// A runtime or kernel call that hangs fails the set-up (with an
	// event, and a retry) rather than leaving the pod without a word.
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if spec.Spec.HostNetwork {
		p.podIPs = []string{p.w.cfg.NodeIP}
	} else {
		ns, err := p.w.net.CreateNetNS(string(spec.UID))
		if err != nil {
			return fail("FailedCreatePodSandBox", fmt.Sprintf("Failed to create pod sandbox: network namespace: %v", err))
		}
		ip, err := p.w.net.Setup(ctx, string(spec.UID), ns, hostPorts(spec))
		if err != nil {
			return fail("FailedCreatePodSandBox", fmt.Sprintf("Failed to create pod sandbox: network: %v", err))
		}
		p.netns, p.podIPs = ns, []string{ip.IP.String()}
	}
	if err := p.w.rt.EnsureSandbox(ctx, string(spec.UID), spec.Namespace, spec.Name, p.netns); err != nil {
		return fail("FailedCreatePodSandBox", fmt.Sprintf("Failed to create pod sandbox: %v", err))
	}
	withIPs := spec.DeepCopy()
	withIPs.Status.PodIP = p.podIPs[0]
	withIPs.Status.PodIPs = []corev1.PodIP{{IP: p.podIPs[0]}}
	withIPs.Status.HostIP = p.w.cfg.NodeIP
	pv, err := p.w.vols.Setup(ctx, withIPs, p.w.sources(), p.w.tokens, p.w.nodeInfo())
	if err != nil {
		return fail("FailedMount", fmt.Sprintf("MountVolume.SetUp failed: %v", err))
	}
	p.volumes, p.volsRV, p.net, p.setupFails, p.setupWait = pv, p.sourcesVersion(spec), true, 0, ""
	return true
}

// refreshVolumes rewrites configMap, secret and projected volumes when
// what they come from changed.
func (p *pod) refreshVolumes(ctx context.Context, spec *corev1.Pod) {
	if !p.net || p.volsRV == p.sourcesVersion(spec) {
		return
	}
	withIPs := spec.DeepCopy()
	withIPs.Status.PodIPs = []corev1.PodIP{{IP: p.podIPs[0]}}
	withIPs.Status.PodIP = p.podIPs[0]
	pv, err := p.w.vols.Setup(ctx, withIPs, p.w.sources(), p.w.tokens, p.w.nodeInfo())
	if err != nil {
		p.event(spec, "", corev1.EventTypeWarning, "FailedMount", fmt.Sprintf("MountVolume.SetUp failed: %v", err))
		return
	}
	p.volumes, p.volsRV = pv, p.sourcesVersion(spec)
}

// sourcesVersion fingerprints the ConfigMaps and Secrets the pod's
// volumes show.
func (p *pod) sourcesVersion(spec *corev1.Pod) string {
	src := p.w.sources()
	var parts []string
	add := func(kind, name string) {
		var rv string
		switch kind {
		case "cm":
			if cm, _ := src.ConfigMap(spec.Namespace, name); cm != nil {
				rv = cm.ResourceVersion
			}
		default:
			if s, _ := src.Secret(spec.Namespace, name); s != nil {
				rv = s.ResourceVersion
			}
		}
		parts = append(parts, kind+"/"+name+"="+rv)
	}
	for _, v := range spec.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			add("cm", v.ConfigMap.Name)
		case v.Secret != nil:
			add("secret", v.Secret.SecretName)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					add("cm", s.ConfigMap.Name)
				}
				if s.Secret != nil {
					add("secret", s.Secret.Name)
				}
			}
		}
	}
	parts = append(parts, "labels="+fmt.Sprint(spec.Labels), "annotations="+fmt.Sprint(spec.Annotations))
	return strings.Join(parts, ",")
}

func hostPorts(spec *corev1.Pod) []network.HostPort {
	var out []network.HostPort
	for _, c := range spec.Spec.Containers {
		for _, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			proto := string(port.Protocol)
			if proto == "" {
				proto = "TCP"
			}
			out = append(out, network.HostPort{Protocol: proto, HostPort: port.HostPort, ContainerPort: port.ContainerPort, HostIP: port.HostIP})
		}
	}
	return out
}

func (p *pod) pullDelay(name string) time.Duration {
	n := p.pullFails[name]
	if n == 0 {
		return 0
	}
	return min(pullBackoffMin<<min(n-1, 5), pullBackoffMax)
}

// startContainer pulls the image, resolves env and mounts, and starts one
// container instance.
func (p *pod) startContainer(ctx context.Context, spec *corev1.Pod, a plan.Action) bool {
	c := containerSpec(spec, a.Container)
	if c == nil {
		return false
	}
	now := p.w.now()
	var secrets []corev1.Secret
	src := p.w.sources()
	for _, ref := range spec.Spec.ImagePullSecrets {
		if s, _ := src.Secret(spec.Namespace, ref.Name); s != nil {
			secrets = append(secrets, *s)
		}
	}
	var pullStart time.Time
	_, pulled, err := p.w.rt.EnsureImage(ctx, c.Image, c.ImagePullPolicy, secrets, func() {
		pullStart = time.Now()
		p.event(spec, c.Name, corev1.EventTypeNormal, "Pulling", fmt.Sprintf("Pulling image %q", c.Image))
	})
	if err != nil && c.ImagePullPolicy == corev1.PullAlways {
		// An edge node that cannot reach its registry still runs the copy
		// it has (after a reboot offline, say), where the kubelet would
		// leave the pod in ImagePullBackOff.
		if _, _, lerr := p.w.rt.EnsureImage(ctx, c.Image, corev1.PullNever, nil, nil); lerr == nil {
			p.event(spec, c.Name, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q, running the copy on the node: %v", c.Image, err))
			err, pulled = nil, false
		}
	}
	if errors.Is(err, runtime.ErrImageNeverPull) {
		// Nothing was pulled, so there is no pull back-off: the kubelet
		// looks again at its next sync, 10 s after a failed one, with
		// the same events each time.
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		p.waiting[c.Name] = plan.Waiting{Reason: "ErrImageNeverPull", Message: msg, Retry: now.Add(pullBackoffMin)}
		p.event(spec, c.Name, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		p.event(spec, c.Name, corev1.EventTypeWarning, "Failed", "Error: ErrImageNeverPull")
		return false
	}
	if err != nil {
		p.pullFails[c.Name]++
		p.waiting[c.Name] = plan.Waiting{Reason: "ErrImagePull", Message: err.Error(), Retry: now.Add(p.pullDelay(c.Name))}
		p.event(spec, c.Name, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %v", c.Image, err))
		// The kubelet follows the pull's failure with the container's,
		// which names the waiting reason.
		p.event(spec, c.Name, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
		return false
	}
	delete(p.pullFails, c.Name)
	if pulled {
		p.event(spec, c.Name, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q in %s", c.Image, time.Since(pullStart).Round(time.Millisecond)))
	} else {
		p.event(spec, c.Name, corev1.EventTypeNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", c.Image))
	}
	withIPs := p.withStatus(spec).DeepCopy()
	if len(p.podIPs) > 0 {
		withIPs.Status.PodIP = p.podIPs[0]
		withIPs.Status.PodIPs = []corev1.PodIP{{IP: p.podIPs[0]}}
	}
	withIPs.Status.HostIP = p.w.cfg.NodeIP
	env, err := podspec.Env(withIPs, c, src, p.w.nodeInfo())
	if err != nil {
		p.configError(spec, c, err, now)
		return false
	}
	mounts, err := p.volumes.Mounts(c, env, p.podIPs)
	if err != nil {
		p.configError(spec, c, err, now)
		return false
	}
	cmd, args := podspec.Command(c, env)
	cfg := runtime.ContainerConfig{
		PodUID: string(spec.UID), PodNamespace: spec.Namespace, PodName: spec.Name, Name: c.Name, Attempt: a.Attempt, BackoffFrom: a.BackoffFrom,
		Image: c.Image, Command: cmd, Args: args, WorkingDir: c.WorkingDir, Env: env,
		Hostname: p.volumes.Hostname(), NetNSPath: p.netns,
		HostNetwork: spec.Spec.HostNetwork, HostPID: spec.Spec.HostPID, HostIPC: spec.Spec.HostIPC,
		Resources: c.Resources, SecurityContext: c.SecurityContext, PodSecurityContext: spec.Spec.SecurityContext,
		TTY: c.TTY, Stdin: c.Stdin, StdinOnce: c.StdinOnce,
		LogPath: p.logPath(spec, c.Name, a.Attempt),
	}
	for _, m := range mounts {
		cfg.Mounts = append(cfg.Mounts, runtime.Mount{HostPath: m.HostPath, ContainerPath: m.ContainerPath, ReadOnly: m.ReadOnly, Propagation: m.Propagation})
	}
	if err := os.MkdirAll(filepath.Dir(cfg.LogPath), 0o755); err != nil {
		klog.ErrorS(err, "creating the log directory", "pod", klog.KObj(spec))
	}
	p.event(spec, c.Name, corev1.EventTypeNormal, "Created", fmt.Sprintf("Created container: %s", c.Name))
	// The id is known before the create, so that a create that half
	// failed is still looked at (and removed) by the next sync.
	p.adopt([]string{runtime.ContainerID(string(spec.UID), c.Name, a.Attempt)})
	if _, err := p.w.rt.CreateContainer(ctx, cfg); err != nil {
		p.waiting[c.Name] = plan.Waiting{Reason: "RunContainerError", Message: err.Error(), Retry: now.Add(pullBackoffMin)}
		p.event(spec, c.Name, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Error: %v", err))
		return false
	}
	delete(p.waiting, c.Name)
	p.event(spec, c.Name, corev1.EventTypeNormal, "Started", fmt.Sprintf("Started container %s", c.Name))
	return true
}

func (p *pod) configError(spec *corev1.Pod, c *corev1.Container, err error, now time.Time) {
	p.waiting[c.Name] = plan.Waiting{Reason: "CreateContainerConfigError", Message: err.Error(), Retry: now.Add(pullBackoffMin)}
	p.event(spec, c.Name, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Error: %v", err))
}

// LogPath of one container instance.
func (p *pod) logPath(spec *corev1.Pod, container string, attempt int) string {
	return filepath.Join(p.w.cfg.LogDir, fmt.Sprintf("%s_%s_%s", spec.Namespace, spec.Name, spec.UID), container, fmt.Sprintf("%d.log", attempt))
}

// teardown removes the pod's sandbox, volumes and network. release is
// the release of a finished pod, whose exited containers and logs stay
// until it is deleted: its cgroup, which holds theirs, stays with them.
func (p *pod) teardown(ctx context.Context, spec *corev1.Pod, release bool) bool {
	ok := true
	uid := string(spec.UID)
	removeSandbox := p.w.rt.RemoveSandbox
	if release {
		removeSandbox = p.w.rt.ReleaseSandbox
	}
	if err := removeSandbox(ctx, uid); err != nil {
		klog.ErrorS(err, "removing the pod sandbox", "pod", klog.KObj(spec))
		ok = false
	}
	if err := p.w.vols.Teardown(uid); err != nil {
		klog.ErrorS(err, "removing the pod's volumes", "pod", klog.KObj(spec))
		ok = false
	}
	if !spec.Spec.HostNetwork {
		if err := p.w.net.Teardown(ctx, uid, p.w.net.NetNSPath(uid)); err != nil {
			klog.ErrorS(err, "removing the pod's network", "pod", klog.KObj(spec))
			ok = false
		}
		if err := p.w.net.DeleteNetNS(uid); err != nil {
			klog.ErrorS(err, "removing the pod's network namespace", "pod", klog.KObj(spec))
			ok = false
		}
	}
	if ok {
		if !release {
			_ = os.RemoveAll(filepath.Join(p.w.cfg.LogDir, fmt.Sprintf("%s_%s_%s", spec.Namespace, spec.Name, spec.UID)))
		}
		p.net = false
	}
	return ok
}

// report queues the pod's status when it differs from the last one.
func (p *pod) report(ctx context.Context, spec *corev1.Pod, obs plan.Observed, now time.Time, deleting bool) {
	if p.orphan {
		return
	}
	if !deleting {
		p.refreshVolumes(ctx, spec)
	}
	st := plan.Status(p.withStatus(spec), obs, now)
	b, err := json.Marshal(st)
	if err != nil || string(b) == string(p.reported) {
		return
	}
	if err := p.w.out.Put(ctx, "pod/"+string(spec.UID), protocol.StatusItem{
		Kind: protocol.ItemPodStatus, Namespace: spec.Namespace, Name: spec.Name, UID: spec.UID, PodStatus: &st,
	}); err != nil {
		klog.ErrorS(err, "queueing pod status", "pod", klog.KObj(spec))
		return
	}
	p.reported, p.status = b, &st
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		p.mu.Lock()
		p.done = true
		p.mu.Unlock()
	}
}

// logTail returns at most lines lines and max bytes of a CRI log's text.
func logTail(path string, lines, maxBytes int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if _, _, _, text, err := runtime.ParseCRILine([]byte(l)); err == nil {
			out = append(out, string(text))
		}
	}
	if len(out) > lines {
		out = out[len(out)-lines:]
	}
	s := strings.Join(out, "\n")
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
	}
	return s
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
