// Package manifest holds the compiled form of a pipeline, as written by internal/compile
// and read by internal/runner: manifest.yaml plus one cfg/<step>.json per step.
package manifest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Manifest is manifest.yaml. Field order here is the order written on disk.
type Manifest struct {
	Meta     Meta           `yaml:"meta" json:"meta"`
	Metadata map[string]any `yaml:"metadata,omitempty" json:"metadata,omitempty"`
	Name     string         `yaml:"name" json:"name"`
	Pipeline Pipeline       `yaml:"pipeline" json:"pipeline"`
	Steps    []Step         `yaml:"steps" json:"steps"`
}

// Meta identifies the manifest and the toolchain that made it.
type Meta struct {
	ManifestHash  string    `yaml:"manifest_hash" json:"manifest_hash"`
	ManifestShort string    `yaml:"manifest_short" json:"manifest_short"`
	OMLVersion    string    `yaml:"oml_version" json:"oml_version"`
	Profile       string    `yaml:"profile" json:"profile"`
	RunID         string    `yaml:"run_id" json:"run_id"`
	Toolchain     Toolchain `yaml:"toolchain" json:"toolchain"`
}

// Toolchain names the compiler and registry versions.
type Toolchain struct {
	Compiler string `yaml:"compiler" json:"compiler"`
	Registry string `yaml:"registry" json:"registry"`
}

// Pipeline carries the slug and the fingerprints of everything that went into the build.
type Pipeline struct {
	ID           string            `yaml:"id" json:"id"`
	Version      string            `yaml:"version" json:"version"`
	Fingerprints map[string]string `yaml:"fingerprints" json:"fingerprints"`
}

// Step is one step in declaration order, with its implicit needs written out.
type Step struct {
	ID        string   `yaml:"id" json:"id"`
	Component string   `yaml:"component" json:"component"`
	Driver    string   `yaml:"driver" json:"driver"`
	CfgPath   string   `yaml:"cfg_path" json:"cfg_path"`
	Needs     []string `yaml:"needs" json:"needs"`
}

// Load reads manifest.yaml.
func Load(path string) (*Manifest, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", path, err)
	}
	if m.Pipeline.ID == "" || len(m.Steps) == 0 {
		return nil, fmt.Errorf("parse manifest %s: not a manifest (no pipeline id or steps)", path)
	}
	return &m, nil
}

// StepConfig reads cfg/<step>.json of a step, relative to the manifest's directory.
func StepConfig(manifestDir string, s Step) (map[string]any, error) {
	path := s.CfgPath
	if !filepath.IsAbs(path) {
		path = filepath.Join(manifestDir, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read step config %s: %w", s.ID, err)
	}
	var cfg map[string]any
	dec := json.NewDecoder(bytesReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("parse step config %s: %w", path, err)
	}
	return cfg, nil
}
