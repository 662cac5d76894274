// Package persistentvolume is the PersistentVolume controller (the role of
// kube-controller-manager's PV binder) with skiff's built-in local-path
// provisioner: it binds claims to volumes as Kubernetes does (class,
// access modes, volume mode, capacity, selector, pre-binding through
// spec.volumeName or claimRef), keeps the phases of both up to date
// (Pending, Bound, Available, Released, Lost), applies reclaim policies
// (Retain keeps a Released volume; Delete deletes it) and provisions
// hostPath volumes for claims of the "rancher.io/local-path" provisioner
// on the node the scheduler selected for their first pod.
//
// A provisioned volume's directory lives on its node, so the server cannot
// remove it: such volumes carry the finalizer CleanupFinalizer, and after
// the controller deletes the object the node's agent removes the
// directory and reports it through the sync hub, which drops the
// finalizer. A volume whose node no longer exists loses the finalizer
// here, so that it does not wait forever.
//
// The decisions (FindVolume, ClaimStep, VolumeStep, ProvisionVolume) are
// pure; the Controller performs them through the API. The package must not
// import storage, the apiserver or anything under agent/.
package persistentvolume
