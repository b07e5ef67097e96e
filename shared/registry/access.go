package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// principal is who the request is from, per the enforced decision.
func principal(ctx context.Context) (auth.Principal, bool) {
	d, ok := authz.DecisionFrom(ctx)
	return d.Principal, ok
}

// repository returns the repository a push goes to, creating it (private)
// when the pusher may manage repositories there (docs/architecture.md §4).
func (reg *Registry) repository(ctx context.Context, name string) (store.Repository, error) {
	r, err := reg.meta.GetRepository(ctx, name)
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	p, enforced := principal(ctx)
	if enforced {
		v, err := reg.policy.PrincipalVerb(ctx, p, name)
		if err != nil {
			return r, err
		}
		if v < auth.Manage {
			return r, errcode.New(errcode.Denied, "repository %q does not exist and %s may not create it (creating a repository needs manage)", name, p)
		}
	}
	ev := reg.event(ctx, reg.now(), events.RepositoryCreated, name, events.RepositoryData{})
	if err := reg.meta.EnsureRepository(events.With(ctx, ev), name); err != nil {
		return r, fmt.Errorf("create repository: %w", err)
	}
	reg.record(ctx, "create repository", name, "")
	return reg.meta.GetRepository(ctx, name)
}

// record appends an audit event for the request's principal.
func (reg *Registry) record(ctx context.Context, action, target, detail string) {
	p, _ := principal(ctx)
	e := authz.NewAuditEvent(reg.now(), p, action, target, detail)
	if t, _ := auth.SplitRepo(target); t != "" {
		e.Tenancy = t
	}
	if err := reg.audit.AppendAudit(ctx, e); err != nil {
		reg.log.WarnContext(ctx, "audit write failed", "error", err.Error())
	}
}

// listable reports whether the request's principal may see a repository
// in the catalog.
func (reg *Registry) listable(ctx context.Context, name string) (bool, error) {
	p, enforced := principal(ctx)
	if !enforced {
		return true, nil
	}
	if t, _ := auth.SplitRepo(name); t != p.Tenancy {
		return false, nil
	}
	v, err := reg.policy.PrincipalVerb(ctx, p, name)
	return v >= auth.Inspect, err
}

// event makes an event about repository repo in ctx.
func (reg *Registry) event(ctx context.Context, now time.Time, typ, repo string, data any) events.Event {
	t, _ := auth.SplitRepo(repo)
	return events.New(ctx, now, typ, t, repo, data)
}

// pushedEvent is a push's manifest.pushed.
func (reg *Registry) pushedEvent(ctx context.Context, now time.Time, m store.Manifest, tags []string) events.Event {
	return reg.event(ctx, now, events.ManifestPushed, m.Repo, events.ManifestPushedData{Digest: m.Digest,
		MediaType: m.MediaType, Size: m.Size, ArtifactType: m.ArtifactType, Subject: m.Subject, Tags: tags})
}

// guard refuses a push into a pull-through cache's repository.
func (reg *Registry) guard(ctx context.Context, name string) error {
	if reg.up == nil {
		return nil
	}
	return reg.up.Guard(ctx, name)
}
