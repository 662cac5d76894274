//go:build !full

package kineconfig

// sqlDrivers says whether this binary can run kine on PostgreSQL and MySQL.
// They add 4 MB to the binary (42.1 against 38.1 MB, linux/amd64) that
// edge nodes never use, so only the `full` build (FULL=1 hack/build)
// links them.
const sqlDrivers = false
