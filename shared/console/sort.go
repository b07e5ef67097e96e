package console

import (
	"net/url"
	"slices"
)

// sortable is a table column that sorts rows of type T.
type sortable[T any] struct {
	key, label string
	// num marks a count, size or time: right-aligned, and sorted
	// largest first when first chosen.
	num  bool
	less func(a, b T) int
}

// column is a sortable column's header as a page shows it.
type column struct {
	Key, Label string
	Num        bool
	// Sort is the column's aria-sort ("ascending", "descending", or ""),
	// Link the URL that sorts by it (the other way when it is sorted).
	Sort, Link string
}

// order is a sort asked for: a column key and a direction, "asc" or
// "desc".
type order struct{ key, dir string }

// sortRows sorts rows stably by the column q asks for (sort=, dir=), or
// by def when it names none of cols, and returns the order used.
func sortRows[T any](rows []T, cols []sortable[T], q url.Values, def order) order {
	o := order{q.Get("sort"), q.Get("dir")}
	i := slices.IndexFunc(cols, func(c sortable[T]) bool { return c.key == o.key })
	if i < 0 {
		o = def
		i = slices.IndexFunc(cols, func(c sortable[T]) bool { return c.key == o.key })
	}
	if o.dir != "desc" {
		o.dir = "asc"
	}
	slices.SortStableFunc(rows, func(a, b T) int {
		if o.dir == "desc" {
			return cols[i].less(b, a)
		}
		return cols[i].less(a, b)
	})
	return o
}

// headers are the columns' headers under order o, each linking to link
// (given the key and direction it sorts by), but those hide says to
// leave out.
func headers[T any](cols []sortable[T], o order, link func(key, dir string) string, hide func(key string) bool) []column {
	var out []column
	for _, c := range cols {
		if hide != nil && hide(c.key) {
			continue
		}
		h := column{Key: c.key, Label: c.label, Num: c.num}
		next := "asc"
		if c.num {
			next = "desc"
		}
		if c.key == o.key {
			h.Sort = map[string]string{"asc": "ascending", "desc": "descending"}[o.dir]
			next = map[string]string{"asc": "desc", "desc": "asc"}[o.dir]
		}
		h.Link = link(c.key, next)
		out = append(out, h)
	}
	return out
}
