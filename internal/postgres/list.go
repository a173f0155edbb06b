package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// querier is what a pool and a transaction both offer, so that helpers
// compose inside one transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// sqlArgs collects positional arguments while a statement is built.
type sqlArgs []any

// add appends v and returns its placeholder.
func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// sortKey is the column behind an order field and the SQL type its cursor
// value is cast to.
type sortKey struct{ column, sqlType string }

// accepts reports whether a cursor value parses as the column's type, so a
// forged cursor is bad input rather than a failed cast in the database.
func (k sortKey) accepts(v string) bool {
	switch k.sqlType {
	case "timestamptz":
		// Only the form timeKey writes (UTC, RFC 3339): Go parses more than
		// PostgreSQL casts (year 0, offsets beyond ±15:59).
		t, err := time.Parse(time.RFC3339Nano, v)
		return err == nil && t.Year() >= 1 && t.UTC().Format(time.RFC3339Nano) == v
	case "integer":
		_, err := strconv.ParseInt(v, 10, 32)
		return err == nil
	}
	return utf8.ValidString(v) && !strings.ContainsRune(v, 0)
}

// table describes an entity table for the generic listing code.
type table struct {
	name    string
	columns string // the select list, matching the entity's db tags
	sortBy  map[shipgraph.OrderField]sortKey
	// omit lists the columns a listing may leave unread (see
	// shipgraph.Unread).
	omit []omission
}

// omission is a column a listing may leave unread: placeholder, of the
// column's type, is read in its place, so that the scan stays the same.
type omission struct {
	column, placeholder string
	unread              func(shipgraph.Unread) bool
}

// selectList is the select list of a listing in ctx.
func (t table) selectList(ctx context.Context) string {
	u := shipgraph.UnreadFrom(ctx)
	if u == (shipgraph.Unread{}) || len(t.omit) == 0 {
		return t.columns
	}
	cols := strings.Split(t.columns, ", ")
	for i, c := range cols {
		for _, o := range t.omit {
			if c == o.column && o.unread(u) {
				cols[i] = o.placeholder + " AS " + c
			}
		}
	}
	return strings.Join(cols, ", ")
}

// listing is one page request over a table: of the whole table, or of each
// of many parents at once.
type listing struct {
	t         table
	columns   string  // the select list: t.selectList
	parentCol string  // "" lists the whole table
	parents   []int64 // used when parentCol is set
	filter    func(a *sqlArgs) []string
	order     shipgraph.Order
	page      shipgraph.PageArgs
}

// sql builds the statement. Per-parent pages come from one LATERAL join:
// each parent's page is an index range scan with a LIMIT, so the cost grows
// with the page size, not with the parents' total number of children.
func (l listing) sql() (string, sqlArgs, error) {
	key, ok := l.t.sortBy[l.order.Field]
	if !ok {
		return "", nil, shipgraph.InvalidField("orderBy", "cannot order by %s", l.order.Field)
	}
	after, err := l.page.AfterCursor(l.order)
	if err != nil {
		return "", nil, err
	}
	before, err := l.page.BeforeCursor(l.order)
	if err != nil {
		return "", nil, err
	}
	var args sqlArgs
	var parentRef string
	if l.parentCol != "" {
		parentRef = args.add(l.parents)
	}
	var conds []string
	if l.filter != nil {
		conds = l.filter(&args)
	}
	if l.parentCol != "" {
		conds = append(conds, l.parentCol+" = p.parent_id")
	}
	// after/before are positions in the requested order: "after" means
	// greater when ascending and smaller when descending.
	for _, c := range []struct {
		arg string
		c   *shipgraph.Cursor
	}{{"after", after}, {"before", before}} {
		if c.c != nil && !key.accepts(c.c.Value) {
			return "", nil, shipgraph.InvalidField(c.arg, "%s is not a valid cursor", c.arg)
		}
	}
	cmp := func(c *shipgraph.Cursor, greater bool) string {
		op := "<"
		if greater {
			op = ">"
		}
		return "(" + key.column + ", id) " + op + " (" + args.add(c.Value) + "::" + key.sqlType + ", " + args.add(c.ID) + "::bigint)"
	}
	if after != nil {
		conds = append(conds, cmp(after, !l.order.Desc))
	}
	if before != nil {
		conds = append(conds, cmp(before, l.order.Desc))
	}
	// Counting from the end (last/before) reads the order backwards and
	// flips the rows afterwards.
	dir := " ASC"
	if l.order.Desc != l.page.Backward() {
		dir = " DESC"
	}
	columns := l.columns
	if columns == "" {
		columns = l.t.columns
	}
	var b strings.Builder
	b.WriteString("SELECT " + columns + " FROM " + l.t.name)
	if len(conds) > 0 {
		b.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	b.WriteString(" ORDER BY " + key.column + dir + ", id" + dir)
	// One extra row tells whether another page follows.
	b.WriteString(" LIMIT " + strconv.Itoa(l.page.Limit()+1))
	if l.parentCol == "" {
		return b.String(), args, nil
	}
	return "SELECT c.* FROM unnest(" + parentRef + "::bigint[]) AS p(parent_id) CROSS JOIN LATERAL (" + b.String() + ") c", args, nil
}

// list runs l and returns one page per parent, in l.parents order (one page
// when l lists the whole table). parentOf reads a row's parent id.
func list[T any](ctx context.Context, q querier, l listing, parentOf func(*T) int64) ([]shipgraph.Page[*T], error) {
	l.columns = l.t.selectList(ctx)
	query, args, err := l.sql()
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(err)
	}
	items, err := pgx.CollectRows(rows, scanner[T]())
	if err != nil {
		return nil, translate(err)
	}
	if l.parentCol == "" {
		return []shipgraph.Page[*T]{paginate(l, items)}, nil
	}
	byParent := make(map[int64][]*T, len(l.parents))
	for _, it := range items {
		p := parentOf(it)
		byParent[p] = append(byParent[p], it)
	}
	pages := make([]shipgraph.Page[*T], len(l.parents))
	for i, p := range l.parents {
		pages[i] = paginate(l, byParent[p])
	}
	return pages, nil
}

// paginate trims the look-ahead row and restores the requested order.
func paginate[T any](l listing, items []*T) shipgraph.Page[*T] {
	page := shipgraph.Page[*T]{Items: items}
	more := len(items) > l.page.Limit()
	if more {
		page.Items = items[:l.page.Limit()]
	}
	if l.page.Backward() {
		slices.Reverse(page.Items)
		page.HasPreviousPage = more
		page.HasNextPage = l.page.Before != ""
	} else {
		page.HasNextPage = more
		page.HasPreviousPage = l.page.After != ""
	}
	if page.Items == nil {
		page.Items = []*T{}
	}
	return page
}

// counting counts rows over a table, or per parent.
type counting struct {
	t         table
	parentCol string
	parents   []int64
	filter    func(a *sqlArgs) []string
}

// count runs c and returns one count per parent, in c.parents order (one
// count when c counts the whole table).
func count(ctx context.Context, q querier, c counting) ([]int, error) {
	var args sqlArgs
	var conds []string
	if c.parentCol != "" {
		conds = append(conds, c.parentCol+" = ANY("+args.add(c.parents)+")")
	}
	if c.filter != nil {
		conds = append(conds, c.filter(&args)...)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	if c.parentCol == "" {
		var n int
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+c.t.name+where, args...).Scan(&n); err != nil {
			return nil, translate(err)
		}
		return []int{n}, nil
	}
	rows, err := q.Query(ctx, "SELECT "+c.parentCol+", count(*) FROM "+c.t.name+where+" GROUP BY "+c.parentCol, args...)
	if err != nil {
		return nil, translate(err)
	}
	byParent := make(map[int64]int, len(c.parents))
	var parent int64
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&parent, &n}, func() error {
		byParent[parent] = n
		return nil
	}); err != nil {
		return nil, translate(err)
	}
	counts := make([]int, len(c.parents))
	for i, p := range c.parents {
		counts[i] = byParent[p]
	}
	return counts, nil
}

// group is the part of a batch of queries that one statement answers: the
// queries that differ only in their parent.
type group[Q comparable] struct {
	shared    Q      // the query with its parent cleared
	parentCol string // "" for a whole-table query
}

// batch answers queries with one statement per group of queries that share
// everything but their parent (in practice: one per GraphQL field), and
// returns the results in query order. split clears a query's parent and
// names it; run answers one group for a list of parents.
func batch[Q comparable, R any](qs []Q, split func(Q) (group[Q], int64), run func(g group[Q], parents []int64) ([]R, error)) ([]R, error) {
	type member struct {
		index  int
		parent int64
	}
	groups := map[group[Q]][]member{}
	var order []group[Q]
	for i, q := range qs {
		g, parent := split(q)
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], member{i, parent})
	}
	out := make([]R, len(qs))
	for _, g := range order {
		// A parent asked for twice is fetched once and answered twice.
		var parents []int64
		slot := map[int64]int{}
		for _, m := range groups[g] {
			if _, ok := slot[m.parent]; !ok {
				slot[m.parent] = len(parents)
				parents = append(parents, m.parent)
			}
		}
		results, err := run(g, parents)
		if err != nil {
			return nil, err
		}
		for _, m := range groups[g] {
			out[m.index] = results[slot[m.parent]]
		}
	}
	return out, nil
}

// byID fetches rows by primary key and returns them in ids order, nil for
// the missing ones.
func byID[T any](ctx context.Context, q querier, t table, ids []int64, idOf func(*T) int64) ([]*T, error) {
	rows, err := q.Query(ctx, "SELECT "+t.columns+" FROM "+t.name+" WHERE id = ANY($1)", ids)
	if err != nil {
		return nil, translate(err)
	}
	items, err := pgx.CollectRows(rows, scanner[T]())
	if err != nil {
		return nil, translate(err)
	}
	found := make(map[int64]*T, len(items))
	for _, it := range items {
		found[idOf(it)] = it
	}
	out := make([]*T, len(ids))
	for i, id := range ids {
		out[i] = found[id]
	}
	return out, nil
}

// one scans the single row of a statement into a T.
func one[T any](ctx context.Context, q querier, sql string, args ...any) (*T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	it, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByName[T])
	return it, translate(err)
}
