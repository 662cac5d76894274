// Package podworker runs the node's pods: one worker goroutine per pod
// compares what should run (the desired document in the agent's store)
// with what runs (containerd), asks agent/plan what to do, does it
// through agent/runtime, agent/network and agent/volumes, and queues the
// pod's status in the outbox whenever it changes.
//
// On start it adopts what already runs: containers are found by their
// labels and kept, so an agent restart kills and restarts nothing. It
// must not import server/.
package podworker
