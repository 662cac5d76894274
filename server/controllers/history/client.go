package history

import (
	"context"
	"fmt"

	"github.com/skiff-io/skiff/server/kubeclient"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Revisions is the typed client of ControllerRevisions in one namespace.
type Revisions = kubeclient.Client[*appsv1.ControllerRevision, *appsv1.ControllerRevisionList]

// maxCollisions bounds how many names Ensure tries.
const maxCollisions = 100

// Ensure makes want (from New, numbered Next(revs)) the owner's newest
// revision, given revs, the revisions the owner has now, and returns the
// stored one. A revision with the same template is reused and, if it is not
// the newest, renumbered (a rollback); otherwise want is created. When its
// name is taken by a different template, *collisionCount is incremented
// and the name recomputed; the caller then stores the new count in the
// owner's status.collisionCount.
func Ensure(ctx context.Context, c Revisions, revs []*appsv1.ControllerRevision, want *appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	if equal := FindEqual(revs, want); len(equal) > 0 {
		Sort(equal)
		last := equal[len(equal)-1]
		if last.Revision >= Next(revs)-1 {
			return last, nil
		}
		return renumber(ctx, c, last, want.Revision)
	}
	for i := 0; i < maxCollisions; i++ {
		created, err := c.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			return created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("history: create revision %s: %w", want.Name, err)
		}
		existing, gerr := c.Get(ctx, want.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, fmt.Errorf("history: get revision %s: %w", want.Name, gerr)
		}
		if Equal(existing, want) && isOwnedBySame(existing, want) {
			// Created by an earlier pass the caller's cache had not seen.
			if existing.Revision < want.Revision {
				return renumber(ctx, c, existing, want.Revision)
			}
			return existing, nil
		}
		*collisionCount++
		hash := Hash(want.Data.Raw, collisionCount)
		want = want.DeepCopy()
		want.Labels[HashLabel] = hash
		want.Name = Name(want.OwnerReferences[0].Name, hash)
	}
	return nil, fmt.Errorf("history: no free revision name for %s after %d collisions", want.OwnerReferences[0].Name, maxCollisions)
}

func isOwnedBySame(a, b *appsv1.ControllerRevision) bool {
	ra, rb := metav1.GetControllerOf(a), metav1.GetControllerOf(b)
	return ra != nil && rb != nil && ra.UID == rb.UID
}

func renumber(ctx context.Context, c Revisions, rev *appsv1.ControllerRevision, revision int64) (*appsv1.ControllerRevision, error) {
	patch := []byte(fmt.Sprintf(`{"revision":%d}`, revision))
	out, err := c.Patch(ctx, rev.Name, "application/merge-patch+json", patch, metav1.PatchOptions{})
	if err != nil {
		return nil, fmt.Errorf("history: renumber revision %s: %w", rev.Name, err)
	}
	return out, nil
}

// Cleanup deletes what ToDelete selects; revisions already gone are fine.
func Cleanup(ctx context.Context, c Revisions, revs []*appsv1.ControllerRevision, live map[string]bool, limit int32) error {
	for _, r := range ToDelete(revs, live, limit) {
		err := c.Delete(ctx, r.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &r.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("history: delete revision %s: %w", r.Name, err)
		}
	}
	return nil
}
