//go:build cgo && linux

package kineconfig

// SQLite allocates with C's malloc. glibc gives every thread that calls
// malloc an arena of its own, up to eight per core, and an arena keeps the
// memory freed in it; Go runs cgo calls on whichever thread is free, so a
// busy server ends with a dozen arenas of 1–3 MiB each, holding little.
// Two arenas hold the same allocations (at 10,000 pods the memory outside
// Go's heap went from 32–45 to 17–18 MiB; docs/control-plane.md, Memory).
// It runs as the binary loads, before any thread has an arena of its
// own; a MALLOC_ARENA_MAX or GLIBC_TUNABLES set by the user wins.

/*
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

__attribute__((constructor)) static void skiff_limit_malloc_arenas(void) {
#ifdef M_ARENA_MAX
	const char *t = getenv("GLIBC_TUNABLES");
	if (getenv("MALLOC_ARENA_MAX") != NULL || (t != NULL && strstr(t, "arena_max") != NULL)) {
		return;
	}
	mallopt(M_ARENA_MAX, 2);
#endif
}
*/
import "C"
