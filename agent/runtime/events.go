package runtime

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	containerd "github.com/containerd/containerd"
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
)

// EventType is the kind of a ContainerEvent.
type EventType string

// Event types.
const (
	EventStarted EventType = "Started"
	EventExited  EventType = "Exited"
	EventOOM     EventType = "OOM"
)

// ContainerEvent is a change of a skiff container's task.
type ContainerEvent struct {
	ID       string
	PodUID   string
	Name     string
	Type     EventType
	ExitCode int       // for EventExited
	At       time.Time // when containerd saw it
}

// Events streams the start, exit and OOM events of skiff containers until
// ctx ends, then closes the channel. It also records exits and OOM kills on
// the container, so status survives the task's removal. Each time it
// (re)subscribes, at the start and after containerd restarted, it reports
// the exits it has not recorded yet, those that happened while the agent
// was down included. An exit may thus be reported twice; Start events lost
// during a containerd restart are not replayed.
func (r *Runtime) Events(ctx context.Context) <-chan ContainerEvent {
	out := make(chan ContainerEvent, 64)
	go func() {
		defer close(out)
		const minBackoff = 100 * time.Millisecond
		backoff := minBackoff
		for ctx.Err() == nil {
			if r.relayEvents(ctx, out) {
				backoff = minBackoff
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			backoff = min(backoff*2, 2*time.Second)
		}
	}()
	return out
}

// relayEvents forwards one subscription's events until it fails or ctx
// ends. It reports whether containerd answered.
func (r *Runtime) relayEvents(ctx context.Context, out chan<- ContainerEvent) (healthy bool) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	envs, errs := r.client.Subscribe(sctx,
		`namespace==`+Namespace+`,topic=="/tasks/start"`,
		`namespace==`+Namespace+`,topic=="/tasks/exit"`,
		`namespace==`+Namespace+`,topic=="/tasks/oom"`,
	)
	missed, err := r.unrecordedExits(ctx)
	if err != nil {
		return false
	}
	for _, ev := range missed {
		select {
		case out <- ev:
		case <-ctx.Done():
			return true
		}
	}
	for {
		select {
		case <-ctx.Done():
			return true
		case <-errs:
			return true
		case env, ok := <-envs:
			if !ok {
				return true
			}
			if env == nil || env.Event == nil {
				continue
			}
			v, err := typeurl.UnmarshalAny(env.Event)
			if err != nil {
				continue
			}
			ev := ContainerEvent{At: env.Timestamp}
			switch e := v.(type) {
			case *apievents.TaskStart:
				ev.ID, ev.Type = e.ContainerID, EventStarted
			case *apievents.TaskExit:
				if e.ID != e.ContainerID {
					continue // an exec'd process
				}
				ev.ID, ev.Type, ev.ExitCode = e.ContainerID, EventExited, int(e.ExitStatus)
				if e.ExitedAt != nil {
					ev.At = e.ExitedAt.AsTime()
				}
			case *apievents.TaskOOM:
				ev.ID, ev.Type = e.ContainerID, EventOOM
			default:
				continue
			}
			ctr, labels, err := r.loadSkiff(ctx, ev.ID)
			if err != nil || labels[labelKind] != kindContainer {
				continue
			}
			ev.PodUID, ev.Name = labels[labelPodUID], labels[labelName]
			switch ev.Type {
			case EventExited:
				ctr.SetLabels(ctx, map[string]string{
					labelFinishedAt: ev.At.UTC().Format(time.RFC3339Nano),
					labelExitCode:   strconv.Itoa(ev.ExitCode),
				})
			case EventOOM:
				ctr.SetLabels(ctx, map[string]string{labelOOM: "true"})
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return true
			}
		}
	}
}

// unrecordedExits finds skiff containers whose task has exited without the
// exit being recorded on the container, records and returns those exits.
// A started container whose task is gone altogether (containerd lost its
// state with the process: a reboot, or containerd killed with its
// containers) is recorded as lost, with lostExitCode, at the time it is
// found: its real exit status and time are nowhere to be read.
func (r *Runtime) unrecordedExits(ctx context.Context) ([]ContainerEvent, error) {
	ctrs, err := r.client.Containers(ctx, `labels."`+labelKind+`"==`+kindContainer)
	if err != nil {
		return nil, err
	}
	var evs []ContainerEvent
	for _, ctr := range ctrs {
		info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil || info.Labels[labelFinishedAt] != "" {
			continue
		}
		ev := ContainerEvent{ID: ctr.ID(), PodUID: info.Labels[labelPodUID], Name: info.Labels[labelName], Type: EventExited}
		labels := map[string]string{}
		st, err := r.taskState(ctx, ctr.ID())
		switch {
		case err == nil && st.Status == containerd.Stopped:
			ev.ExitCode, ev.At = int(st.ExitStatus), st.ExitTime
		case errdefs.IsNotFound(err) && info.Labels[labelStartedAt] != "":
			ev.ExitCode, ev.At = lostExitCode, time.Now()
			labels[labelLost] = "true"
		default:
			continue
		}
		labels[labelFinishedAt] = ev.At.UTC().Format(time.RFC3339Nano)
		labels[labelExitCode] = strconv.Itoa(ev.ExitCode)
		ctr.SetLabels(ctx, labels)
		evs = append(evs, ev)
	}
	return evs, nil
}

// oomKilled reports whether the kernel OOM-killed a process in the
// container's cgroup (which lives until the task is deleted).
func (r *Runtime) oomKilled(ctx context.Context, ctr containerd.Container) bool {
	spec, err := ctr.Spec(ctx)
	if err != nil || spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		return false
	}
	p := spec.Linux.CgroupsPath
	for _, f := range []string{
		filepath.Join("/sys/fs/cgroup/memory", p, "memory.oom_control"), // v1
		filepath.Join("/sys/fs/cgroup", p, "memory.events"),             // v2
	} {
		if n, ok := readCounter(f, "oom_kill"); ok {
			return n > 0
		}
	}
	return false
}

func readCounter(path, key string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
