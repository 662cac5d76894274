// This module stands in for go.etcd.io/etcd/server/v3 (see the replace
// directive in skiff's go.mod and embed/embed.go here).
module go.etcd.io/etcd/server/v3

go 1.24
