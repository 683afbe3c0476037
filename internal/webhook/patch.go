package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// Patch is the JSON patch that turns original into mutated. Both are encoded
// from the same Go types, so a field of the request that those types do not
// know (a newer API server, an alpha field) is in neither and never touched;
// a diff against the raw request would remove it. A pod that needs no change
// gets no operation at all (nil).
//
// The arrays Mutate changes are diffed by element identity, not by position
// as jsonpatch.CreatePatch does: prepending our init containers must insert
// them, not rewrite the user's init container 0 into ours field by field and
// add the user's again from our types (leaving its unknown fields on the wrong
// element and dropping them from the right one). Which arrays are keyed, and
// by which field, is in keyedArrays; any other array is left alone when equal
// and replaced whole when not.
func Patch(original, mutated *corev1.Pod) ([]jsonpatch.Operation, error) {
	a, err := generic(original)
	if err != nil {
		return nil, fmt.Errorf("encoding the original pod: %w", err)
	}
	b, err := generic(mutated)
	if err != nil {
		return nil, fmt.Errorf("encoding the mutated pod: %w", err)
	}
	var d differ
	d.diff("", "", a, b, "replace")
	return d.ops, nil
}

// keyedArrays names, by path pattern ("*" for any array index), the arrays
// diffed by element identity and the field that identifies an element.
// Container ports are not keyed: Mutate never changes a user's.
var keyedArrays = map[string]string{
	"/spec/containers":                         "name",
	"/spec/initContainers":                     "name",
	"/spec/ephemeralContainers":                "name",
	"/spec/volumes":                            "name",
	"/spec/containers/*/volumeMounts":          "mountPath",
	"/spec/initContainers/*/volumeMounts":      "mountPath",
	"/spec/ephemeralContainers/*/volumeMounts": "mountPath",
	"/spec/containers/*/env":                   "name",
	"/spec/initContainers/*/env":               "name",
	"/spec/ephemeralContainers/*/env":          "name",
}

// generic is v encoded as JSON and decoded into maps, slices, strings,
// json.Numbers, bools and nils.
func generic(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var g any
	return g, dec.Decode(&g)
}

// differ collects the operations of a diff.
type differ struct{ ops []jsonpatch.Operation }

func (d *differ) add(op, path string, value any) {
	d.ops = append(d.ops, jsonpatch.NewOperation(op, path, value))
}

// diff adds the operations that turn a into b at path, a JSON pointer;
// pattern is path with array indices written "*". set is the operation that
// sets the value at path: "add" for an object member, "replace" for an array
// element. An object member is set with add, which replaces a member that
// exists and adds one that does not: our types encode some members the raw
// request may lack (resources: {}), and a replace of one of those would fail.
func (d *differ) diff(path, pattern string, a, b any, set string) {
	switch a := a.(type) {
	case map[string]any:
		if b, ok := b.(map[string]any); ok {
			d.object(path, pattern, a, b)
			return
		}
	case []any:
		if b, ok := b.([]any); ok {
			d.array(path, pattern, a, b, set)
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		d.add(set, path, b)
	}
}

func (d *differ) object(path, pattern string, a, b map[string]any) {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + "/" + escape(k)
		av, inA := a[k]
		bv, inB := b[k]
		switch {
		case !inB:
			d.add("remove", p, nil)
		case !inA:
			d.add("add", p, bv)
		case isEmptyObject(av) && !reflect.DeepEqual(av, bv):
			// Our types encode some empty members (resources: {}) that the
			// raw request may lack: set the member whole rather than add
			// below a parent that may not be there.
			d.add("add", p, bv)
		default:
			d.diff(p, pattern+"/"+escape(k), av, bv, "add")
		}
	}
}

// array diffs a keyed array element by element: it removes the elements
// whose key is gone (highest index first, so the indices still hold), then
// walks b, inserting new elements and diffing kept ones in place. Elements
// without a key, duplicate keys, or kept elements that changed order make it
// replace the whole array.
func (d *differ) array(path, pattern string, a, b []any, set string) {
	if reflect.DeepEqual(a, b) {
		return
	}
	field, keyed := keyedArrays[pattern]
	if !keyed {
		d.add(set, path, b)
		return
	}
	aIndex, aOK := indexOf(a, field)
	bIndex, bOK := indexOf(b, field)
	if !aOK || !bOK || !sameOrder(a, b, aIndex, bIndex, field) {
		d.add(set, path, b)
		return
	}
	for i := len(a) - 1; i >= 0; i-- {
		if !hasKey(bIndex, keyOf(a[i], field)) {
			d.add("remove", fmt.Sprintf("%s/%d", path, i), nil)
		}
	}
	for j, e := range b {
		p := fmt.Sprintf("%s/%d", path, j)
		if i, kept := aIndex[keyOf(e, field)]; kept {
			d.diff(p, pattern+"/*", a[i], e, "replace")
		} else {
			d.add("add", p, e)
		}
	}
}

// indexOf maps the key of each element of arr to its index, or reports false
// when an element has no non-empty string in field or two share one.
func indexOf(arr []any, field string) (map[string]int, bool) {
	index := make(map[string]int, len(arr))
	for i, e := range arr {
		k := keyOf(e, field)
		if _, dup := index[k]; k == "" || dup {
			return nil, false
		}
		index[k] = i
	}
	return index, true
}

func hasKey(index map[string]int, k string) bool {
	_, ok := index[k]
	return ok
}

func keyOf(e any, field string) string {
	obj, _ := e.(map[string]any)
	k, _ := obj[field].(string)
	return k
}

// sameOrder reports whether the elements in both a and b come in the same
// order in each.
func sameOrder(a, b []any, aIndex, bIndex map[string]int, field string) bool {
	var kept []string
	for _, e := range a {
		if k := keyOf(e, field); hasKey(bIndex, k) {
			kept = append(kept, k)
		}
	}
	n := 0
	for _, e := range b {
		if k := keyOf(e, field); hasKey(aIndex, k) {
			if kept[n] != k {
				return false
			}
			n++
		}
	}
	return true
}

func isEmptyObject(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}

// escape makes a key one token of a JSON pointer (RFC 6901).
func escape(key string) string {
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}
