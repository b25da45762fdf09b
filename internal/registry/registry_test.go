package registry

import "testing"

func TestLoadAll(t *testing.T) {
	r, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) > 0 {
		t.Fatal(r.Warnings)
	}
	if len(r.Names()) != 12 {
		t.Fatal(r.Names())
	}
	for _, s := range r.List() {
		if _, err := s.Schema(); err != nil {
			t.Fatal(s.Name, err)
		}
	}
}
