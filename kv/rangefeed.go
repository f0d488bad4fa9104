package kv

import "sync"

type feedRegistry struct {
	mu sync.Mutex
}

func (f *feedRegistry) init()                         {}
func (f *feedRegistry) active() bool                  { return false }
func (f *feedRegistry) publishCommit(ce *commitEntry) {}
func (f *feedRegistry) closeAll(err error)            {}
func (e *Engine) checkpointLoop()                     { <-e.ctx.Done() }
