package drivers

import "sync"

// DiscovererFactory makes a fresh Discoverer for one discovery.
type DiscovererFactory func() Discoverer

var (
	discoverersMu sync.RWMutex
	discoverers   = map[string]DiscovererFactory{}
)

// RegisterDiscoverer makes a discoverer available under a component name when the
// component's step driver lives in another file or is written by someone else: the
// discovery code and the extraction code of one family can then grow independently.
// It panics on a duplicate, like Register.
func RegisterDiscoverer(component string, f DiscovererFactory) {
	discoverersMu.Lock()
	defer discoverersMu.Unlock()
	if _, dup := discoverers[component]; dup {
		panic("drivers: discoverer " + component + " registered twice")
	}
	discoverers[component] = f
}

// LookupDiscoverer returns a Discoverer for a component: one registered with
// RegisterDiscoverer, else the component's driver if it implements Discoverer.
func LookupDiscoverer(component string) (Discoverer, bool) {
	discoverersMu.RLock()
	f, ok := discoverers[component]
	discoverersMu.RUnlock()
	if ok {
		return f(), true
	}
	factory, ok := Lookup(component)
	if !ok {
		return nil, false
	}
	d, ok := factory().(Discoverer)
	return d, ok
}
