package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/osirisgo/osiris/internal/manifest"
)

// order returns the steps in topological order over needs (Kahn's algorithm, ties by
// declaration order). A cycle or an unknown dependency is an error naming the steps.
func order(steps []manifest.Step) ([]manifest.Step, error) {
	index := map[string]int{}
	for i, s := range steps {
		if _, dup := index[s.ID]; dup {
			return nil, &Error{Kind: KindManifest, Msg: fmt.Sprintf(
				"manifest has two steps with id %q", s.ID)}
		}
		index[s.ID] = i
	}
	indegree := make([]int, len(steps))
	dependents := make([][]int, len(steps))
	for i, s := range steps {
		for _, need := range s.Needs {
			j, ok := index[need]
			if !ok {
				return nil, &Error{Kind: KindManifest, Msg: fmt.Sprintf(
					"step %q needs unknown step %q", s.ID, need)}
			}
			if j == i {
				return nil, &Error{Kind: KindManifest, Msg: fmt.Sprintf(
					"step %q needs itself", s.ID)}
			}
			indegree[i]++
			dependents[j] = append(dependents[j], i)
		}
	}

	var out []manifest.Step
	done := make([]bool, len(steps))
	for len(out) < len(steps) {
		next := -1
		for i := range steps {
			if !done[i] && indegree[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			var stuck []string
			for i, s := range steps {
				if !done[i] {
					stuck = append(stuck, s.ID)
				}
			}
			return nil, &Error{Kind: KindManifest, Msg: "manifest has a dependency cycle " +
				"between steps " + strings.Join(stuck, ", ")}
		}
		done[next] = true
		out = append(out, steps[next])
		for _, d := range dependents[next] {
			indegree[d]--
		}
	}
	return out, nil
}

var nonIdent = regexp.MustCompile(`[^0-9A-Za-z_]`)

// inputKeys maps each step id to its input key df_<id'>: characters outside [0-9A-Za-z_]
// become "_", a leading digit gets a "_" prefix, and ids that collide after that each get
// "_" plus the first 8 hex digits of the SHA-256 of the original id.
func inputKeys(steps []manifest.Step) map[string]string {
	keys := map[string]string{}
	count := map[string]int{}
	for _, s := range steps {
		k := sanitise(s.ID)
		keys[s.ID] = k
		count[k]++
	}
	for id, k := range keys {
		if count[k] > 1 {
			sum := sha256.Sum256([]byte(id))
			keys[id] = k + "_" + hex.EncodeToString(sum[:])[:8]
		}
	}
	return keys
}

func sanitise(id string) string {
	s := nonIdent.ReplaceAllString(id, "_")
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "_" + s
	}
	return "df_" + s
}
