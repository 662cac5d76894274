// Package podspec turns a pod spec into what the container runtime needs:
// each container's resolved environment, its expanded command and args,
// and the contents of the files skiff manages inside every pod
// (/etc/hosts, /etc/hostname, /etc/resolv.conf). It follows the kubelet's
// rules so that manifests behave on a skiff node exactly as on any other
// Kubernetes node.
//
// podspec is pure: no I/O, no clock, no goroutines. ConfigMaps and Secrets
// arrive through the Sources interface, node facts through NodeInfo, and
// host files as bytes. It must not import os, net, or any agent package
// that does I/O (agent/volumes imports podspec, not the reverse).
package podspec
