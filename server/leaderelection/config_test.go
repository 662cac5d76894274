package leaderelection

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skiff-io/skiff/server/errdefs"
	"github.com/skiff-io/skiff/server/kubeclient/kubeclienttest"
)

func TestValidate(t *testing.T) {
	valid := Config{
		Leases:           kubeclienttest.New().Leases(testNamespace),
		Name:             testLease,
		Identity:         "a",
		LeaseDuration:    15 * time.Second,
		RenewDeadline:    10 * time.Second,
		RetryPeriod:      2 * time.Second,
		OnStartedLeading: func(context.Context) {},
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		// want is a part of the error message; empty means valid.
		want string
	}{
		{name: "kube-controller-manager defaults", change: func(*Config) {}},
		{name: "deadline just above 1.2 retry periods", change: func(c *Config) { c.RenewDeadline = 2401 * time.Millisecond }},
		{name: "no client", change: func(c *Config) { c.Leases = nil }, want: "Leases client is not set"},
		{name: "no name", change: func(c *Config) { c.Name = "" }, want: "Lease Name is empty"},
		{name: "no identity", change: func(c *Config) { c.Identity = "" }, want: "Identity is empty"},
		{name: "no callback", change: func(c *Config) { c.OnStartedLeading = nil }, want: "OnStartedLeading is not set"},
		{name: "zero lease duration", change: func(c *Config) { c.LeaseDuration = 0 }, want: "LeaseDuration must be positive, got 0s"},
		{name: "negative deadline", change: func(c *Config) { c.RenewDeadline = -time.Second }, want: "RenewDeadline must be positive"},
		{name: "zero retry period", change: func(c *Config) { c.RetryPeriod = 0 }, want: "RetryPeriod must be positive"},
		{name: "lease duration equal to deadline", change: func(c *Config) { c.LeaseDuration = 10 * time.Second }, want: "LeaseDuration (10s) must be longer than RenewDeadline (10s)"},
		{name: "deadline equal to 1.2 retry periods", change: func(c *Config) { c.RenewDeadline = 2400 * time.Millisecond }, want: "RenewDeadline (2.4s) must be longer than 1.2 × RetryPeriod (2s)"},
		{name: "every problem at once", change: func(c *Config) { c.Name, c.Identity = "", "" }, want: "Lease Name is empty; Identity is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.change(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("Validate error is not an errdefs.ErrInvalid: %v", err)
			}
		})
	}
}
