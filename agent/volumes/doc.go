// Package volumes materializes a pod's volumes and managed files on the
// node's disk and tells the runtime what to bind-mount where.
//
// Layout, under the directory given to New (<data-dir>/agent/pods):
//
//	<uid>/volumes/kubernetes.io~<plugin>/<name>   one directory per volume
//	<uid>/etc-hosts, etc-hostname, resolv.conf    the pod's managed files
//	<uid>/containers/<name>/termination-log       one per container
//	<uid>/volume-subpaths/                        reserved for subPath pins
//
// ConfigMap, Secret, downward API and projected volumes are written with
// an atomic "..data" symlink swap so running containers see each update
// all at once; Secret and projected volumes, and emptyDir with medium
// Memory, live on tmpfs so their contents never reach the node's disk
// (SD cards). Decisions about what goes into files (env, hosts,
// resolv.conf, field values) come from agent/podspec; this package only
// does the file system work. It must not import agent/runtime or any
// server package; the runtime consumes its Mount values.
package volumes
