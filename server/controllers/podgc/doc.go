// Package podgc deletes pods nobody else will, as kube-controller-manager's
// pod garbage collector does: pods bound to a Node that no longer exists
// (once it has been missing for a short quarantine), finished pods
// (Succeeded or Failed) beyond a threshold, oldest first, and pods being
// deleted that were never scheduled.
//
// Decide is pure; the loop talks to the API through server/kubeclient only
// and must not import storage, the apiserver or anything under agent/.
package podgc
