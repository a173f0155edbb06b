package shipgraph

import "time"

// TestCaseStatus is the outcome of a test case's last run.
type TestCaseStatus string

// The test case statuses. A test case starts as NOT_RUN.
const (
	TestNotRun  TestCaseStatus = "NOT_RUN"
	TestPassed  TestCaseStatus = "PASSED"
	TestFailed  TestCaseStatus = "FAILED"
	TestSkipped TestCaseStatus = "SKIPPED"
)

// Valid reports whether s is a known status.
func (s TestCaseStatus) Valid() bool {
	switch s {
	case TestNotRun, TestPassed, TestFailed, TestSkipped:
		return true
	}
	return false
}

// TestCase is a check that a feature works; it belongs to one feature.
type TestCase struct {
	ID             int64          `db:"id"`
	FeatureID      int64          `db:"feature_id"`
	Title          string         `db:"title"`
	Steps          string         `db:"steps"`
	ExpectedResult string         `db:"expected_result"`
	Status         TestCaseStatus `db:"status"`
	Version        int            `db:"version"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

// GlobalID is the test case's opaque Relay ID.
func (t *TestCase) GlobalID() string { return EncodeID(KindTestCase, t.ID) }

// CursorOf returns the cursor of t in the given order.
func (t *TestCase) CursorOf(o Order) Cursor {
	if o.Field == OrderUpdatedAt {
		return Cursor{Field: o.Field, Value: timeKey(t.UpdatedAt), ID: t.ID}
	}
	return Cursor{Field: o.Field, Value: timeKey(t.CreatedAt), ID: t.ID}
}

var (
	testCaseTitle          = textRule{field: "title", min: 2, max: 255}
	testCaseSteps          = textRule{field: "steps", min: 0, max: 10000, multiline: true}
	testCaseExpectedResult = textRule{field: "expectedResult", min: 0, max: 2000, multiline: true}
)

// TestCaseCreate is the input of a new test case.
type TestCaseCreate struct {
	FeatureID      int64
	Title          string
	Steps          string
	ExpectedResult string
}

// Validate trims and checks the input in place.
func (in *TestCaseCreate) Validate() error {
	var err error
	if in.Title, err = testCaseTitle.check(in.Title); err != nil {
		return err
	}
	if in.Steps, err = testCaseSteps.check(in.Steps); err != nil {
		return err
	}
	in.ExpectedResult, err = testCaseExpectedResult.check(in.ExpectedResult)
	return err
}

// TestCaseUpdate changes the fields that are set and leaves the others alone.
type TestCaseUpdate struct {
	ID              int64
	Title           *string
	Steps           *string
	ExpectedResult  *string
	Status          *TestCaseStatus
	ExpectedVersion *int
}

// Validate trims and checks the input in place.
func (in *TestCaseUpdate) Validate() error {
	for _, f := range []struct {
		rule textRule
		v    *string
	}{{testCaseTitle, in.Title}, {testCaseSteps, in.Steps}, {testCaseExpectedResult, in.ExpectedResult}} {
		if err := f.rule.checkOptional(f.v); err != nil {
			return err
		}
	}
	if in.Status != nil && !in.Status.Valid() {
		return InvalidField("status", "unknown status %q", *in.Status)
	}
	return checkVersion(in.ExpectedVersion)
}

// TestCaseQuery selects one page of a feature's test cases.
type TestCaseQuery struct {
	FeatureID int64
	Status    TestCaseStatus // any when empty
	Page      PageArgs
}

// Order is the fixed order of a feature's test cases: as they were written.
func (TestCaseQuery) Order() Order { return Order{Field: OrderCreatedAt} }
