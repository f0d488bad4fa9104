package tenant

import (
	"context"
	"sync"
)

// Service is a running SQL service of one virtual cluster. Package tenant
// declares it and keeps the running ones; the SQL layer implements it, so
// tenant never imports upward.
type Service interface {
	// Stop drains the service synchronously: it refuses new sessions, closes
	// the open ones (their running statements are cancelled) and returns when
	// no session of the VC is left. It is called at most once.
	Stop(ctx context.Context) error
}

// Registry maps VC ids and names to their running SQL services. The wire
// server consults it to route each new connection; the VC statements add and
// remove services as service modes change. It is safe for concurrent use and
// the lookup path takes only a read lock.
type Registry struct {
	mu struct {
		sync.RWMutex
		byName map[string]entry
		byID   map[ID]string
	}
}

type entry struct {
	id  ID
	svc Service
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{}
	r.mu.byName = make(map[string]entry)
	r.mu.byID = make(map[ID]string)
	return r
}

// Add registers svc as the running service of VC id, named name. It replaces
// nothing: adding a second service for the same id or name returns false.
func (r *Registry) Add(id ID, name string, svc Service) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.mu.byID[id]; ok {
		return false
	}
	if _, ok := r.mu.byName[name]; ok {
		return false
	}
	r.mu.byName[name] = entry{id: id, svc: svc}
	r.mu.byID[id] = name
	return true
}

// Remove unregisters VC id's service and returns it (nil if none ran). The
// caller stops it; new connections are refused from the moment Remove
// returns.
func (r *Registry) Remove(id ID) Service {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, ok := r.mu.byID[id]
	if !ok {
		return nil
	}
	e := r.mu.byName[name]
	delete(r.mu.byName, name)
	delete(r.mu.byID, id)
	return e.svc
}

// Rename moves VC id's running service to a new name.
func (r *Registry) Rename(id ID, newName string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.mu.byID[id]
	if !ok {
		return
	}
	e := r.mu.byName[old]
	delete(r.mu.byName, old)
	r.mu.byName[newName] = e
	r.mu.byID[id] = newName
}

// Lookup returns the running service of the VC named name.
func (r *Registry) Lookup(name string) (Service, ID, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.mu.byName[name]
	return e.svc, e.id, ok
}

// LookupID returns the running service of VC id.
func (r *Registry) LookupID(id ID) (Service, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	name, ok := r.mu.byID[id]
	if !ok {
		return nil, false
	}
	return r.mu.byName[name].svc, true
}

// Running returns the ids of the VCs whose service runs.
func (r *Registry) Running() []ID {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := make([]ID, 0, len(r.mu.byID))
	for id := range r.mu.byID {
		ids = append(ids, id)
	}
	return ids
}
