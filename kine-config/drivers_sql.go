//go:build full

package kineconfig

import (
	_ "github.com/k3s-io/kine/pkg/drivers/mysql" // register mysql:// for --datastore-endpoint
	_ "github.com/k3s-io/kine/pkg/drivers/pgsql" // register postgres:// for --datastore-endpoint
)

// sqlDrivers says whether this binary can run kine on PostgreSQL and MySQL.
const sqlDrivers = true
