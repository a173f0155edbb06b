package postgres_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var (
	createdAsc  = shipgraph.Order{Field: shipgraph.OrderCreatedAt}
	createdDesc = shipgraph.Order{Field: shipgraph.OrderCreatedAt, Desc: true}
)

func orderName(o shipgraph.Order) string {
	if o.Desc {
		return string(o.Field) + " desc"
	}
	return string(o.Field) + " asc"
}

func featurePager(t *testing.T, s *postgres.Store, f shipgraph.FeatureFilter, o shipgraph.Order) fetchPage[*shipgraph.Feature] {
	return func(p shipgraph.PageArgs) (shipgraph.Page[*shipgraph.Feature], error) {
		return s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: f, Order: o, Page: p})
	}
}

func featureCursor(o shipgraph.Order) func(*shipgraph.Feature) string {
	return func(f *shipgraph.Feature) string { return f.CursorOf(o).Encode() }
}

// featureKey compares features by the sort field of o.
func featureKey(o shipgraph.Order) func(a, b *shipgraph.Feature) int {
	return func(a, b *shipgraph.Feature) int {
		switch o.Field {
		case shipgraph.OrderName:
			return strings.Compare(a.Name, b.Name)
		case shipgraph.OrderComplexityPoints:
			return a.ComplexityPoints - b.ComplexityPoints
		case shipgraph.OrderUpdatedAt:
			return a.UpdatedAt.Compare(b.UpdatedAt)
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	}
}

func sortFeatures(fs []*shipgraph.Feature, o shipgraph.Order) []*shipgraph.Feature {
	return sortedBy(fs, o.Desc, featureKey(o), func(f *shipgraph.Feature) int64 { return f.ID })
}

// createFeatures creates one feature per name suffix, all named after tok so
// that a Search filter on tok isolates them.
func createFeatures(t *testing.T, s *postgres.Store, tok string, n int) []*shipgraph.Feature {
	t.Helper()
	var fs []*shipgraph.Feature
	for i := range n {
		fs = append(fs, createFeature(t, s, shipgraph.FeatureCreate{Name: tok + " item " + itoa(100+i), ComplexityPoints: 1 + i%13}))
	}
	return fs
}

func reloadFeatures(t *testing.T, s *postgres.Store, fs []*shipgraph.Feature) []*shipgraph.Feature {
	t.Helper()
	out := try(s.FeaturesByID(t.Context(), featureIDs(fs))).must(t)
	for i, f := range out {
		if f == nil {
			t.Fatalf("feature %d is gone", fs[i].ID)
		}
	}
	return out
}

func TestListFeaturesPagination(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok := token(t)
	all := createFeatures(t, s, tok, 7)
	filter := shipgraph.FeatureFilter{Search: tok}

	for _, o := range []shipgraph.Order{createdAsc, createdDesc} {
		want := featureIDs(sortFeatures(all, o))
		for _, size := range []int{1, 2, 3, 6, 7, 8, 100} {
			t.Run("first/after visits every row once in order ("+orderName(o)+", pages of "+itoa(size)+")", func(t *testing.T) {
				t.Parallel()
				got := walkForward(t, size, featurePager(t, s, filter, o), featureCursor(o))
				requireIDs(t, "forward walk", featureIDs(got), want)
			})
			t.Run("last/before visits every row once in order ("+orderName(o)+", pages of "+itoa(size)+")", func(t *testing.T) {
				t.Parallel()
				got := walkBackward(t, size, featurePager(t, s, filter, o), featureCursor(o))
				requireIDs(t, "backward walk", featureIDs(got), want)
			})
		}
	}

	t.Run("empty result has no items and no pages around it", func(t *testing.T) {
		t.Parallel()
		none := shipgraph.FeatureFilter{Search: token(t)}
		for _, p := range []shipgraph.PageArgs{{First: 5}, {Last: 5}, {}} {
			page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: none, Order: createdAsc, Page: p})).must(t)
			if len(page.Items) != 0 || page.HasNextPage || page.HasPreviousPage {
				t.Errorf("%+v: got %d items, hasNext %v, hasPrev %v; want none, false, false",
					p, len(page.Items), page.HasNextPage, page.HasPreviousPage)
			}
		}
		if n := try(s.CountFeatures(t.Context(), none)).must(t); n != 0 {
			t.Errorf("CountFeatures = %d, want 0", n)
		}
	})

	t.Run("exactly one page: first n of n has no next page", func(t *testing.T) {
		t.Parallel()
		want := featureIDs(sortFeatures(all, createdAsc))
		page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: createdAsc, Page: shipgraph.PageArgs{First: 7}})).must(t)
		requireIDs(t, "first 7", featureIDs(page.Items), want)
		requirePageFlags(t, "", page, false, false)
		page = try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: createdAsc, Page: shipgraph.PageArgs{First: 6}})).must(t)
		requireIDs(t, "first 6", featureIDs(page.Items), want[:6])
		requirePageFlags(t, "first 6 of 7", page, true, false)
	})

	t.Run("exactly one page: last n of n has no previous page", func(t *testing.T) {
		t.Parallel()
		want := featureIDs(sortFeatures(all, createdAsc))
		page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: createdAsc, Page: shipgraph.PageArgs{Last: 7}})).must(t)
		requireIDs(t, "last 7", featureIDs(page.Items), want)
		requirePageFlags(t, "", page, false, false)
		page = try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: createdAsc, Page: shipgraph.PageArgs{Last: 6}})).must(t)
		requireIDs(t, "last 6", featureIDs(page.Items), want[1:])
		requirePageFlags(t, "last 6 of 7", page, false, true)
	})

	t.Run("without first or last returns the default page size", func(t *testing.T) {
		t.Parallel()
		page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: createdAsc})).must(t)
		requireIDs(t, "default page", featureIDs(page.Items), featureIDs(sortFeatures(all, createdAsc)))
		if page.HasNextPage {
			t.Error("hasNextPage with 7 of at most 20 rows")
		}
	})

	t.Run("first/after and before together give the rows in between", func(t *testing.T) {
		t.Parallel()
		sorted := sortFeatures(all, createdAsc)
		c := featureCursor(createdAsc)
		page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: createdAsc,
			Page: shipgraph.PageArgs{First: 10, After: c(sorted[1]), Before: c(sorted[5])}})).must(t)
		requireIDs(t, "between", featureIDs(page.Items), featureIDs(sorted[2:5]))
	})

	t.Run("count matches", func(t *testing.T) {
		t.Parallel()
		if n := try(s.CountFeatures(t.Context(), filter)).must(t); n != len(all) {
			t.Errorf("CountFeatures = %d, want %d", n, len(all))
		}
	})
}

func TestListFeaturesCursorOfDeletedRow(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, o := range []shipgraph.Order{
		createdAsc, createdDesc,
		{Field: shipgraph.OrderName}, {Field: shipgraph.OrderName, Desc: true},
		{Field: shipgraph.OrderComplexityPoints}, {Field: shipgraph.OrderUpdatedAt, Desc: true},
	} {
		t.Run("continues after its position ("+orderName(o)+")", func(t *testing.T) {
			t.Parallel()
			tok := token(t)
			sorted := sortFeatures(createFeatures(t, s, tok, 6), o)
			filter := shipgraph.FeatureFilter{Search: tok}
			first := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: o, Page: shipgraph.PageArgs{First: 3}})).must(t)
			requireIDs(t, "first page", featureIDs(first.Items), featureIDs(sorted[:3]))
			gone := first.Items[2]
			noErr(t, s.DeleteFeature(t.Context(), gone.ID))
			cursor := gone.CursorOf(o).Encode()

			next := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: o, Page: shipgraph.PageArgs{First: 10, After: cursor}})).must(t)
			requireIDs(t, "after the deleted row", featureIDs(next.Items), featureIDs(sorted[3:]))
			requirePageFlags(t, "", next, false, true)
			prev := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: o, Page: shipgraph.PageArgs{Last: 10, Before: cursor}})).must(t)
			requireIDs(t, "before the deleted row", featureIDs(prev.Items), featureIDs(sorted[:2]))
		})
	}
}

func encodeRawCursor(json string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(json))
}

func TestListFeaturesInvalidCursor(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok := token(t)
	fs := createFeatures(t, s, tok, 2)
	filter := shipgraph.FeatureFilter{Search: tok}
	nameCursor := fs[0].CursorOf(shipgraph.Order{Field: shipgraph.OrderName}).Encode()

	bad := map[string]string{
		"garbage":                        "not a cursor!",
		"base64 of garbage":              base64.RawURLEncoding.EncodeToString([]byte("garbage")),
		"cursor without id":              encodeRawCursor(`{"f":"CREATED_AT","v":"2024-01-01T00:00:00Z"}`),
		"cursor with id 0":               encodeRawCursor(`{"f":"CREATED_AT","v":"2024-01-01T00:00:00Z","i":0}`),
		"cursor with a negative id":      encodeRawCursor(`{"f":"CREATED_AT","v":"2024-01-01T00:00:00Z","i":-5}`),
		"cursor of another ordering":     nameCursor,
		"cursor of an unknown ordering":  encodeRawCursor(`{"f":"PRICE","v":"1","i":1}`),
		"JSON of the wrong shape":        encodeRawCursor(`[1,2,3]`),
		"cursor with a non-numeric id":   encodeRawCursor(`{"f":"CREATED_AT","v":"2024-01-01T00:00:00Z","i":"1"}`),
		"SQL in the cursor":              encodeRawCursor(`{"f":"CREATED_AT'; DROP TABLE features; --","v":"x","i":1}`),
		"cursor of a truncated encoding": nameCursor[:len(nameCursor)/2],
	}
	for name, cursor := range bad {
		t.Run(name+" in after is BAD_USER_INPUT on after", func(t *testing.T) {
			t.Parallel()
			_, err := s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: createdAsc, Page: shipgraph.PageArgs{First: 5, After: cursor}})
			requireError(t, err, shipgraph.CodeBadUserInput, "after")
		})
		t.Run(name+" in before is BAD_USER_INPUT on before", func(t *testing.T) {
			t.Parallel()
			_, err := s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: createdAsc, Page: shipgraph.PageArgs{Last: 5, Before: cursor}})
			requireError(t, err, shipgraph.CodeBadUserInput, "before")
		})
	}

	// A cursor that decodes and names the right ordering, but whose value is
	// not of the sort column's type: a forged or corrupted cursor.
	for name, c := range map[string]struct {
		o    shipgraph.Order
		json string
	}{
		"a CREATED_AT cursor whose value is not a time":     {createdAsc, `{"f":"CREATED_AT","v":"the day after tomorrow","i":1}`},
		"a COMPLEXITY_POINTS cursor whose value is no int":  {shipgraph.Order{Field: shipgraph.OrderComplexityPoints}, `{"f":"COMPLEXITY_POINTS","v":"many","i":1}`},
		"a COMPLEXITY_POINTS cursor whose value overflows":  {shipgraph.Order{Field: shipgraph.OrderComplexityPoints}, `{"f":"COMPLEXITY_POINTS","v":"99999999999","i":1}`},
		"an UPDATED_AT cursor whose value is an empty time": {shipgraph.Order{Field: shipgraph.OrderUpdatedAt}, `{"f":"UPDATED_AT","v":"","i":1}`},
		// Times Go parses but PostgreSQL does not cast.
		"a CREATED_AT cursor in year 0":               {createdAsc, `{"f":"CREATED_AT","v":"0000-01-01T00:00:00Z","i":1}`},
		"a CREATED_AT cursor with an offset of 23:59": {createdAsc, `{"f":"CREATED_AT","v":"2024-01-01T00:00:00-23:59","i":1}`},
		"a CREATED_AT cursor that is not in UTC":      {createdAsc, `{"f":"CREATED_AT","v":"2024-01-01T00:00:00+01:00","i":1}`},
	} {
		t.Run(name+" is BAD_USER_INPUT on after", func(t *testing.T) {
			t.Parallel()
			_, err := s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: c.o, Page: shipgraph.PageArgs{First: 5, After: encodeRawCursor(c.json)}})
			requireError(t, err, shipgraph.CodeBadUserInput, "after")
		})
	}

	t.Run("an unsupported order is BAD_USER_INPUT on orderBy", func(t *testing.T) {
		t.Parallel()
		for _, f := range []shipgraph.OrderField{shipgraph.OrderNumber, shipgraph.OrderSequence, "", "name"} {
			_, err := s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: shipgraph.Order{Field: f}, Page: shipgraph.PageArgs{First: 5}})
			requireError(t, err, shipgraph.CodeBadUserInput, "orderBy")
		}
	})
}

func TestListFeaturesOrderings(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok := token(t)
	// Ties in every sort field, so that only the id decides between some rows.
	specs := []struct {
		name       string
		complexity int
	}{
		{"charlie", 5}, {"alpha", 3}, {"charlie", 3}, {"bravo", 8}, {"alpha", 5}, {"delta", 1}, {"alpha", 3}, {"bravo", 13},
	}
	var fs []*shipgraph.Feature
	for _, sp := range specs {
		fs = append(fs, createFeature(t, s, shipgraph.FeatureCreate{Name: tok + " " + sp.name, ComplexityPoints: sp.complexity}))
	}
	// Timestamps with ties too, out of id order.
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	for i, f := range fs {
		created := base.Add(time.Duration((len(fs)-i)/3) * time.Minute)
		updated := base.Add(time.Duration(i%3) * time.Minute)
		execSQL(t, "UPDATE features SET created_at = $2, updated_at = $3 WHERE id = $1", f.ID, created, updated)
	}
	fs = reloadFeatures(t, s, fs)
	filter := shipgraph.FeatureFilter{Search: tok}

	for _, field := range []shipgraph.OrderField{shipgraph.OrderName, shipgraph.OrderComplexityPoints, shipgraph.OrderUpdatedAt, shipgraph.OrderCreatedAt} {
		for _, desc := range []bool{false, true} {
			o := shipgraph.Order{Field: field, Desc: desc}
			want := featureIDs(sortFeatures(fs, o))
			t.Run(orderName(o)+" with ties broken by id", func(t *testing.T) {
				t.Parallel()
				page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: o, Page: shipgraph.PageArgs{First: 100}})).must(t)
				requireIDs(t, "one page", featureIDs(page.Items), want)
				for _, size := range []int{1, 2, 3} {
					requireIDs(t, "forward walk", featureIDs(walkForward(t, size, featurePager(t, s, filter, o), featureCursor(o))), want)
					requireIDs(t, "backward walk", featureIDs(walkBackward(t, size, featurePager(t, s, filter, o), featureCursor(o))), want)
				}
			})
		}
	}
}

func TestListFeaturesStableUnderConcurrentInserts(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok := token(t)
	original := createFeatures(t, s, tok, 7)
	filter := shipgraph.FeatureFilter{Search: tok}
	cursor := featureCursor(createdAsc)

	var seen, later []int64
	after := ""
	for i := 0; i < maxPages; i++ {
		page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: filter, Order: createdAsc, Page: shipgraph.PageArgs{First: 2, After: after}})).must(t)
		seen = append(seen, featureIDs(page.Items)...)
		if !page.HasNextPage {
			break
		}
		after = cursor(page.Items[len(page.Items)-1])
		if i < 3 {
			// New rows between two page fetches: two created now (so
			// later than every original row) and one back-dated before all
			// of them.
			for j := range 2 {
				later = append(later, createFeature(t, s, shipgraph.FeatureCreate{Name: tok + " new " + itoa(i*10+j)}).ID)
			}
			old := createFeature(t, s, shipgraph.FeatureCreate{Name: tok + " old " + itoa(i)})
			execSQL(t, "UPDATE features SET created_at = now() - interval '1 day' WHERE id = $1", old.ID)
		}
	}
	counts := map[int64]int{}
	for _, id := range seen {
		counts[id]++
		if counts[id] > 1 {
			t.Fatalf("feature %d visited twice: %v", id, seen)
		}
	}
	// Every original row exactly once, in order, then the rows created
	// during the walk, which sort after them; the back-dated ones sort
	// before the cursor and are never reached.
	want := append(featureIDs(sortFeatures(original, createdAsc)), later...)
	requireIDs(t, "walk during inserts", seen, want)
}

func TestListFeaturesFilters(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok := token(t)
	mk := func(name, desc string, cp int, st shipgraph.FeatureStatus) *shipgraph.Feature {
		return createFeature(t, s, shipgraph.FeatureCreate{Name: tok + " " + name, Description: desc, ComplexityPoints: cp, Status: st})
	}
	alpha := mk("Alpha Search", "", 1, shipgraph.FeatureDraft)
	beta := mk("beta", "Mentions Gamma-"+tok+" in the description", 5, shipgraph.FeatureReady)
	pct := mk("100% done", "", 8, shipgraph.FeatureShipped)
	pctX := mk("100x done", "", 13, shipgraph.FeatureShipped)
	snake := mk("snake_case", "", 3, shipgraph.FeatureInProgress)
	snakeX := mk("snakeXcase", "", 3, shipgraph.FeatureArchived)
	slash := mk(`back\slash`, "", 2, shipgraph.FeatureDraft)
	quote := mk(`it's "quoted"`, "", 4, shipgraph.FeatureReady)
	all := []*shipgraph.Feature{alpha, beta, pct, pctX, snake, snakeX, slash, quote}

	cases := []struct {
		name   string
		filter shipgraph.FeatureFilter
		want   []*shipgraph.Feature
	}{
		{"search matches the name", shipgraph.FeatureFilter{Search: tok}, all},
		{"search is case-insensitive", shipgraph.FeatureFilter{Search: strings.ToUpper(tok) + " ALPHA search"}, []*shipgraph.Feature{alpha}},
		{"search matches a substring in the middle of the name", shipgraph.FeatureFilter{Search: strings.ToUpper(tok[4:]) + " alpha sEA"}, []*shipgraph.Feature{alpha}},
		{"search matches the description", shipgraph.FeatureFilter{Search: "gamma-" + strings.ToUpper(tok)}, []*shipgraph.Feature{beta}},
		{"search treats % literally", shipgraph.FeatureFilter{Search: tok + " 100%"}, []*shipgraph.Feature{pct}},
		{"search treats % literally, not as any text", shipgraph.FeatureFilter{Search: tok + "%"}, nil},
		{"search treats _ literally", shipgraph.FeatureFilter{Search: tok + " snake_case"}, []*shipgraph.Feature{snake}},
		{"search treats _ literally, not as any character", shipgraph.FeatureFilter{Search: tok + "_"}, nil},
		{"search treats a backslash literally", shipgraph.FeatureFilter{Search: tok + ` back\slash`}, []*shipgraph.Feature{slash}},
		{"search treats a trailing backslash literally", shipgraph.FeatureFilter{Search: tok + ` back\`}, []*shipgraph.Feature{slash}},
		{"search treats quotes literally", shipgraph.FeatureFilter{Search: tok + ` it's "quoted"`}, []*shipgraph.Feature{quote}},
		{"status", shipgraph.FeatureFilter{Search: tok, Status: shipgraph.FeatureShipped}, []*shipgraph.Feature{pct, pctX}},
		{"status DRAFT", shipgraph.FeatureFilter{Search: tok, Status: shipgraph.FeatureDraft}, []*shipgraph.Feature{alpha, slash}},
		{"status without matches", shipgraph.FeatureFilter{Search: tok + " beta", Status: shipgraph.FeatureArchived}, nil},
		{"min complexity is inclusive", shipgraph.FeatureFilter{Search: tok, MinComplexity: 5}, []*shipgraph.Feature{beta, pct, pctX}},
		{"max complexity is inclusive", shipgraph.FeatureFilter{Search: tok, MaxComplexity: 3}, []*shipgraph.Feature{alpha, snake, snakeX, slash}},
		{"min and max complexity", shipgraph.FeatureFilter{Search: tok, MinComplexity: 3, MaxComplexity: 8}, []*shipgraph.Feature{beta, pct, snake, snakeX, quote}},
		{"min equal to max complexity", shipgraph.FeatureFilter{Search: tok, MinComplexity: 13, MaxComplexity: 13}, []*shipgraph.Feature{pctX}},
		{"every filter at once", shipgraph.FeatureFilter{Search: tok + " snake", Status: shipgraph.FeatureArchived, MinComplexity: 2, MaxComplexity: 4}, []*shipgraph.Feature{snakeX}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: c.filter, Order: createdAsc, Page: shipgraph.PageArgs{First: 100}})).must(t)
			want := featureIDs(sortFeatures(c.want, createdAsc))
			requireIDs(t, "filter "+c.filter.Search, featureIDs(page.Items), want)
			if n := try(s.CountFeatures(t.Context(), c.filter)).must(t); n != len(want) {
				t.Errorf("CountFeatures = %d, want %d", n, len(want))
			}
			// Paging through a filtered listing gives the same rows.
			requireIDs(t, "filtered walk", featureIDs(walkForward(t, 2, featurePager(t, s, c.filter, createdAsc), featureCursor(createdAsc))), want)
		})
	}

	t.Run("search with SQL injection matches nothing and the table survives", func(t *testing.T) {
		t.Parallel()
		for _, q := range []string{
			"'; DROP TABLE features; --",
			tok + "' OR '1'='1",
			tok + `" OR 1=1 --`,
			`\'; DELETE FROM features; --`,
			"%' OR name LIKE '%",
		} {
			f := shipgraph.FeatureFilter{Search: q}
			page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: f, Order: createdAsc, Page: shipgraph.PageArgs{First: 100}})).must(t)
			if len(page.Items) != 0 {
				t.Errorf("search %q matched %v", q, featureIDs(page.Items))
			}
			if n := try(s.CountFeatures(t.Context(), f)).must(t); n != 0 {
				t.Errorf("CountFeatures(%q) = %d", q, n)
			}
		}
		if n := countSQL(t, "SELECT count(*) FROM features WHERE strpos(name, $1) > 0", tok); n != len(all) {
			t.Errorf("%d features with the token left, want %d", n, len(all))
		}
		if n := try(s.CountFeatures(t.Context(), shipgraph.FeatureFilter{Search: tok})).must(t); n != len(all) {
			t.Errorf("CountFeatures after the injection attempts = %d, want %d", n, len(all))
		}
	})

	t.Run("search does not match across the name/description boundary", func(t *testing.T) {
		t.Parallel()
		tok2 := token(t)
		createFeature(t, s, shipgraph.FeatureCreate{Name: "zz" + tok2, Description: "yy"})
		// tok2+" yy" is a substring of neither the name nor the description.
		f := shipgraph.FeatureFilter{Search: tok2 + " yy"}
		page := try(s.ListFeatures(t.Context(), shipgraph.FeatureQuery{Filter: f, Order: createdAsc, Page: shipgraph.PageArgs{First: 100}})).must(t)
		if len(page.Items) != 0 {
			t.Errorf("search %q matched %v: the end of a name followed by the start of its description", f.Search, featureIDs(page.Items))
		}
		if n := try(s.CountFeatures(t.Context(), f)).must(t); n != 0 {
			t.Errorf("CountFeatures(%q) = %d, want 0", f.Search, n)
		}
	})

	t.Run("filters with every ordering", func(t *testing.T) {
		t.Parallel()
		f := shipgraph.FeatureFilter{Search: tok, MinComplexity: 3}
		want := []*shipgraph.Feature{beta, pct, pctX, snake, snakeX, quote}
		for _, o := range []shipgraph.Order{{Field: shipgraph.OrderName, Desc: true}, {Field: shipgraph.OrderComplexityPoints}, {Field: shipgraph.OrderUpdatedAt, Desc: true}} {
			got := walkBackward(t, 4, featurePager(t, s, f, o), featureCursor(o))
			requireIDs(t, orderName(o), featureIDs(got), featureIDs(sortFeatures(want, o)))
		}
	})
}
