// Package printers renders API objects as the rows of a meta.k8s.io/v1
// Table, the form `kubectl get` asks for (Accept:
// application/json;as=Table;v=v1;g=meta.k8s.io). Columns, cell values and
// their formats follow kube-apiserver's built-in printers, so kubectl shows
// skiff's objects exactly as it would show a real cluster's.
//
// Like kube-apiserver, every row carries the wide (-o wide, Priority 1)
// cells too; kubectl hides them itself. The clock is passed in, so the
// package is pure: no I/O, no time.Now. It must not import storage or the
// HTTP layer; it takes typed k8s.io/api objects and returns cells.
package printers
