package apiserver

import (
	"github.com/skiff-io/skiff/server/scheme"
	"k8s.io/apimachinery/pkg/runtime"
)

// newScheme registers only the groups skiff serves (see server/scheme).
func newScheme() *runtime.Scheme { return scheme.New() }
