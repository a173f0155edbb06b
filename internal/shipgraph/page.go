package shipgraph

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
)

// Page sizes of every connection, root or nested.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// PageArgs are Relay's first/after/last/before. Zero values mean "unset",
// which keeps the struct comparable so that it can be part of a loader key
// (identical arguments share one batched query).
type PageArgs struct {
	First  int
	After  string
	Last   int
	Before string
}

// Validate checks the bounds of first and last and decodes the cursors, so a
// bad argument is reported before any query runs.
func (p PageArgs) Validate(order Order) error {
	if p.First != 0 && p.Last != 0 {
		return InvalidField("first", "pass first or last, not both")
	}
	if p.First < 0 || p.First > MaxPageSize {
		return InvalidField("first", "first must be between 1 and %d", MaxPageSize)
	}
	if p.Last < 0 || p.Last > MaxPageSize {
		return InvalidField("last", "last must be between 1 and %d", MaxPageSize)
	}
	if _, err := p.AfterCursor(order); err != nil {
		return err
	}
	_, err := p.BeforeCursor(order)
	return err
}

// Limit is the number of items asked for.
func (p PageArgs) Limit() int {
	switch {
	case p.First > 0:
		return p.First
	case p.Last > 0:
		return p.Last
	}
	return DefaultPageSize
}

// Backward reports whether the page is counted from its end (last/before).
func (p PageArgs) Backward() bool { return p.Last > 0 }

// AfterCursor decodes After; nil when unset.
func (p PageArgs) AfterCursor(order Order) (*Cursor, error) {
	return decodeCursor("after", p.After, order)
}

// BeforeCursor decodes Before; nil when unset.
func (p PageArgs) BeforeCursor(order Order) (*Cursor, error) {
	return decodeCursor("before", p.Before, order)
}

// OrderField is a column a listing can be sorted by.
type OrderField string

// The sortable fields. Every listing breaks ties by id, so the order is
// total and keyset pagination never skips or repeats a row.
const (
	OrderCreatedAt        OrderField = "CREATED_AT"
	OrderUpdatedAt        OrderField = "UPDATED_AT"
	OrderName             OrderField = "NAME"
	OrderComplexityPoints OrderField = "COMPLEXITY_POINTS"
	OrderNumber           OrderField = "NUMBER"
	OrderSequence         OrderField = "SEQUENCE"
)

// Order is a sort order.
type Order struct {
	Field OrderField
	Desc  bool
}

// Cursor is the decoded position of an item in an ordering: the value of the
// sort field and the id that breaks ties. It stays valid when the item it
// came from is deleted, because pagination compares values, not rows.
type Cursor struct {
	Field OrderField `json:"f"`
	Value string     `json:"v"`
	ID    int64      `json:"i"`
}

// Encode returns the opaque form handed to clients.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c) // cannot fail: strings and an integer
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(arg, s string, order Order) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c Cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID < 1 {
		return nil, InvalidField(arg, "%s is not a valid cursor", arg)
	}
	if c.Field != order.Field {
		return nil, InvalidField(arg, "%s is a cursor of another ordering (%s, not %s)", arg, c.Field, order.Field)
	}
	return &c, nil
}

// Page is one page of a listing, in the listing's order.
type Page[T any] struct {
	Items           []T
	HasNextPage     bool
	HasPreviousPage bool
}

// timeKey formats a timestamp for a cursor. PostgreSQL keeps microseconds and
// parses this form back exactly.
func timeKey(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func intKey(n int) string { return strconv.Itoa(n) }

// CursorOf returns the cursor of f in the given order.
func (f *Feature) CursorOf(o Order) Cursor {
	c := Cursor{Field: o.Field, ID: f.ID}
	switch o.Field {
	case OrderUpdatedAt:
		c.Value = timeKey(f.UpdatedAt)
	case OrderName:
		c.Value = f.Name
	case OrderComplexityPoints:
		c.Value = intKey(f.ComplexityPoints)
	default:
		c.Value = timeKey(f.CreatedAt)
	}
	return c
}
