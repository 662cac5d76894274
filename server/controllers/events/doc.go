// Package events records the Events that skiff's controllers emit about
// the objects they manage, as client-go's event recorder does for
// kube-controller-manager: core/v1 Events with the controller as source,
// written in the background so a controller's loop never waits on them.
//
// Repeats are aggregated: the same type, reason and message about the same
// object bumps the count and lastTimestamp of the Event already written
// instead of creating another. A per-object token bucket (client-go's
// spam filter: a burst of 25, then one every five minutes) drops the rest,
// and the queue of unwritten Events is bounded, so a controller stuck in a
// loop cannot flood the datastore.
//
// It writes through server/kubeclient and must not import storage, the
// apiserver or anything under agent/.
package events
