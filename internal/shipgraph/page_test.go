package shipgraph_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var byName = shipgraph.Order{Field: shipgraph.OrderName}

func TestPageArgsValidate(t *testing.T) {
	t.Parallel()
	cursor := shipgraph.Cursor{Field: shipgraph.OrderName, Value: "Dark mode", ID: 3}.Encode()
	tests := []struct {
		name  string
		in    shipgraph.PageArgs
		field string
	}{
		{name: "no arguments accepted", in: shipgraph.PageArgs{}},
		{name: "first 1 accepted", in: shipgraph.PageArgs{First: 1}},
		{name: "first 100 accepted", in: shipgraph.PageArgs{First: 100}},
		{name: "first 101 rejected", in: shipgraph.PageArgs{First: 101}, field: "first"},
		{name: "first negative rejected", in: shipgraph.PageArgs{First: -1}, field: "first"},
		{name: "last 1 accepted", in: shipgraph.PageArgs{Last: 1}},
		{name: "last 100 accepted", in: shipgraph.PageArgs{Last: 100}},
		{name: "last 101 rejected", in: shipgraph.PageArgs{Last: 101}, field: "last"},
		{name: "last negative rejected", in: shipgraph.PageArgs{Last: -1}, field: "last"},
		{name: "first and last together rejected", in: shipgraph.PageArgs{First: 10, Last: 10}, field: "first"},
		{name: "first with after accepted", in: shipgraph.PageArgs{First: 10, After: cursor}},
		{name: "last with before accepted", in: shipgraph.PageArgs{Last: 10, Before: cursor}},
		{name: "after and before together accepted", in: shipgraph.PageArgs{After: cursor, Before: cursor}},
		{name: "garbage after rejected", in: shipgraph.PageArgs{After: "not a cursor!"}, field: "after"},
		{name: "garbage before rejected", in: shipgraph.PageArgs{Before: "%%%"}, field: "before"},
		{name: "after that is base64 but not JSON rejected", in: shipgraph.PageArgs{After: base64.RawURLEncoding.EncodeToString([]byte("hello"))}, field: "after"},
		{name: "after of JSON null rejected", in: shipgraph.PageArgs{After: base64.RawURLEncoding.EncodeToString([]byte("null"))}, field: "after"},
		{name: "after with wrong JSON types rejected", in: shipgraph.PageArgs{After: base64.RawURLEncoding.EncodeToString([]byte(`{"f":"NAME","v":1,"i":"2"}`))}, field: "after"},
		{name: "after with id 0 rejected", in: shipgraph.PageArgs{After: shipgraph.Cursor{Field: shipgraph.OrderName, Value: "x"}.Encode()}, field: "after"},
		{name: "after with negative id rejected", in: shipgraph.PageArgs{After: shipgraph.Cursor{Field: shipgraph.OrderName, Value: "x", ID: -4}.Encode()}, field: "after"},
		{name: "after of another ordering rejected", in: shipgraph.PageArgs{After: shipgraph.Cursor{Field: shipgraph.OrderCreatedAt, Value: "x", ID: 1}.Encode()}, field: "after"},
		{name: "before of another ordering rejected", in: shipgraph.PageArgs{Before: shipgraph.Cursor{Field: shipgraph.OrderComplexityPoints, Value: "3", ID: 1}.Encode()}, field: "before"},
		{name: "global ID used as cursor rejected", in: shipgraph.PageArgs{After: shipgraph.EncodeID(shipgraph.KindFeature, 1)}, field: "after"},
		{name: "first and last checked before cursors", in: shipgraph.PageArgs{First: 1, Last: 1, After: "garbage"}, field: "first"},
		{name: "bounds checked before cursors", in: shipgraph.PageArgs{Last: 101, After: "garbage"}, field: "last"},
		{name: "after checked before before", in: shipgraph.PageArgs{After: "garbage", Before: "garbage"}, field: "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, tt.in.Validate(byName), tt.field)
		})
	}

	t.Run("cursor of another ordering names both orderings", func(t *testing.T) {
		t.Parallel()
		p := shipgraph.PageArgs{After: shipgraph.Cursor{Field: shipgraph.OrderUpdatedAt, Value: "x", ID: 1}.Encode()}
		e := requireInvalid(t, p.Validate(byName), "after")
		if !strings.Contains(e.Message, "UPDATED_AT") || !strings.Contains(e.Message, "NAME") {
			t.Errorf("message %q does not name both orderings", e.Message)
		}
	})
}

func TestPageArgsLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       shipgraph.PageArgs
		limit    int
		backward bool
	}{
		{"default page size is 20", shipgraph.PageArgs{}, 20, false},
		{"first sets the limit", shipgraph.PageArgs{First: 7}, 7, false},
		{"last sets the limit and counts backward", shipgraph.PageArgs{Last: 9}, 9, true},
		{"first 100", shipgraph.PageArgs{First: 100}, 100, false},
		{"before alone counts forward from the default", shipgraph.PageArgs{Before: "x"}, 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.in.Limit(); got != tt.limit {
				t.Errorf("Limit() = %d, want %d", got, tt.limit)
			}
			if got := tt.in.Backward(); got != tt.backward {
				t.Errorf("Backward() = %v, want %v", got, tt.backward)
			}
		})
	}
	if shipgraph.DefaultPageSize != 20 || shipgraph.MaxPageSize != 100 {
		t.Errorf("page sizes = %d/%d, want 20/100", shipgraph.DefaultPageSize, shipgraph.MaxPageSize)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    shipgraph.Cursor
	}{
		{"name cursor", shipgraph.Cursor{Field: shipgraph.OrderName, Value: "Dark mode", ID: 1}},
		{"unicode and quotes survive", shipgraph.Cursor{Field: shipgraph.OrderName, Value: `日本 "é" <b>\`, ID: 99}},
		{"empty value survives", shipgraph.Cursor{Field: shipgraph.OrderName, Value: "", ID: 5}},
		{"largest id survives", shipgraph.Cursor{Field: shipgraph.OrderName, Value: "z", ID: 1<<63 - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.c.Encode()
			if strings.ContainsAny(s, "+/=") {
				t.Errorf("Encode() = %q, want URL-safe unpadded base64", s)
			}
			after, err := shipgraph.PageArgs{After: s}.AfterCursor(byName)
			requireValid(t, err)
			if after == nil || *after != tt.c {
				t.Errorf("AfterCursor = %+v, want %+v", after, tt.c)
			}
			before, err := shipgraph.PageArgs{Before: s}.BeforeCursor(byName)
			requireValid(t, err)
			if before == nil || *before != tt.c {
				t.Errorf("BeforeCursor = %+v, want %+v", before, tt.c)
			}
		})
	}
	t.Run("unset cursors decode to nil", func(t *testing.T) {
		t.Parallel()
		a, errA := shipgraph.PageArgs{}.AfterCursor(byName)
		b, errB := shipgraph.PageArgs{}.BeforeCursor(byName)
		if a != nil || b != nil || errA != nil || errB != nil {
			t.Errorf("got %v %v %v %v, want nil cursors and no errors", a, b, errA, errB)
		}
	})
	t.Run("a cursor is valid in both directions of its field", func(t *testing.T) {
		t.Parallel()
		s := shipgraph.Cursor{Field: shipgraph.OrderName, Value: "m", ID: 2}.Encode()
		_, err := shipgraph.PageArgs{After: s}.AfterCursor(shipgraph.Order{Field: shipgraph.OrderName, Desc: true})
		requireValid(t, err)
	})
}

func TestCursorOf(t *testing.T) {
	t.Parallel()
	created := time.Date(2024, 3, 1, 10, 0, 0, 123456000, time.FixedZone("CET", 3600))
	updated := created.Add(90 * time.Minute)
	const createdKey, updatedKey = "2024-03-01T09:00:00.123456Z", "2024-03-01T10:30:00.123456Z"
	f := &shipgraph.Feature{ID: 4, Name: "Dark mode", ComplexityPoints: 8, CreatedAt: created, UpdatedAt: updated}
	tc := &shipgraph.TestCase{ID: 5, CreatedAt: created, UpdatedAt: updated}
	b := &shipgraph.Build{ID: 6, Number: 12, CreatedAt: created, UpdatedAt: updated}
	d := &shipgraph.Deployment{ID: 7, CreatedAt: created, UpdatedAt: updated}
	ev := &shipgraph.DeploymentEvent{ID: 8, Sequence: 3}
	order := func(f shipgraph.OrderField) shipgraph.Order { return shipgraph.Order{Field: f} }
	tests := []struct {
		name string
		got  shipgraph.Cursor
		want shipgraph.Cursor
	}{
		{"feature by created at in UTC", f.CursorOf(order(shipgraph.OrderCreatedAt)), shipgraph.Cursor{Field: shipgraph.OrderCreatedAt, Value: createdKey, ID: 4}},
		{"feature by updated at", f.CursorOf(order(shipgraph.OrderUpdatedAt)), shipgraph.Cursor{Field: shipgraph.OrderUpdatedAt, Value: updatedKey, ID: 4}},
		{"feature by name", f.CursorOf(order(shipgraph.OrderName)), shipgraph.Cursor{Field: shipgraph.OrderName, Value: "Dark mode", ID: 4}},
		{"feature by complexity", f.CursorOf(order(shipgraph.OrderComplexityPoints)), shipgraph.Cursor{Field: shipgraph.OrderComplexityPoints, Value: "8", ID: 4}},
		{"feature descending keeps the field", f.CursorOf(shipgraph.Order{Field: shipgraph.OrderName, Desc: true}), shipgraph.Cursor{Field: shipgraph.OrderName, Value: "Dark mode", ID: 4}},
		{"test case by created at", tc.CursorOf(order(shipgraph.OrderCreatedAt)), shipgraph.Cursor{Field: shipgraph.OrderCreatedAt, Value: createdKey, ID: 5}},
		{"test case by updated at", tc.CursorOf(order(shipgraph.OrderUpdatedAt)), shipgraph.Cursor{Field: shipgraph.OrderUpdatedAt, Value: updatedKey, ID: 5}},
		{"build by number", b.CursorOf(order(shipgraph.OrderNumber)), shipgraph.Cursor{Field: shipgraph.OrderNumber, Value: "12", ID: 6}},
		{"build by created at", b.CursorOf(order(shipgraph.OrderCreatedAt)), shipgraph.Cursor{Field: shipgraph.OrderCreatedAt, Value: createdKey, ID: 6}},
		{"build by updated at", b.CursorOf(order(shipgraph.OrderUpdatedAt)), shipgraph.Cursor{Field: shipgraph.OrderUpdatedAt, Value: updatedKey, ID: 6}},
		{"deployment by created at", d.CursorOf(order(shipgraph.OrderCreatedAt)), shipgraph.Cursor{Field: shipgraph.OrderCreatedAt, Value: createdKey, ID: 7}},
		{"deployment by updated at", d.CursorOf(order(shipgraph.OrderUpdatedAt)), shipgraph.Cursor{Field: shipgraph.OrderUpdatedAt, Value: updatedKey, ID: 7}},
		{"event always by sequence", ev.CursorOf(order(shipgraph.OrderCreatedAt)), shipgraph.Cursor{Field: shipgraph.OrderSequence, Value: "3", ID: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("CursorOf = %+v, want %+v", tt.got, tt.want)
			}
			// Every cursor a listing hands out must be accepted back.
			p := shipgraph.PageArgs{First: 10, After: tt.got.Encode()}
			requireValid(t, p.Validate(shipgraph.Order{Field: tt.want.Field}))
		})
	}
}
