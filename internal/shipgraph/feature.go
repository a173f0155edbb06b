package shipgraph

import "time"

// FeatureStatus is where a feature stands in its life cycle.
type FeatureStatus string

// The feature statuses. A feature starts as a DRAFT.
const (
	FeatureDraft      FeatureStatus = "DRAFT"
	FeatureInProgress FeatureStatus = "IN_PROGRESS"
	FeatureReady      FeatureStatus = "READY"
	FeatureShipped    FeatureStatus = "SHIPPED"
	FeatureArchived   FeatureStatus = "ARCHIVED"
)

// Valid reports whether s is a known status.
func (s FeatureStatus) Valid() bool {
	switch s {
	case FeatureDraft, FeatureInProgress, FeatureReady, FeatureShipped, FeatureArchived:
		return true
	}
	return false
}

// Feature is a unit of work, sized in story points.
type Feature struct {
	ID               int64         `db:"id"`
	Name             string        `db:"name"`
	Description      string        `db:"description"`
	ComplexityPoints int           `db:"complexity_points"`
	Status           FeatureStatus `db:"status"`
	Version          int           `db:"version"`
	CreatedAt        time.Time     `db:"created_at"`
	UpdatedAt        time.Time     `db:"updated_at"`
}

// GlobalID is the feature's opaque Relay ID.
func (f *Feature) GlobalID() string { return EncodeID(KindFeature, f.ID) }

// Limits of feature fields, shared by validation and the database CHECKs.
const (
	MinComplexityPoints = 1
	MaxComplexityPoints = 13
)

var (
	featureName        = textRule{field: "name", min: 2, max: 255}
	featureDescription = textRule{field: "description", min: 0, max: 2000, multiline: true}
)

// FeatureCreate is the input of a new feature.
type FeatureCreate struct {
	Name             string
	Description      string
	ComplexityPoints int
	Status           FeatureStatus // DRAFT when empty
}

// Validate trims and checks the input in place.
func (in *FeatureCreate) Validate() error {
	var err error
	if in.Name, err = featureName.check(in.Name); err != nil {
		return err
	}
	if in.Description, err = featureDescription.check(in.Description); err != nil {
		return err
	}
	if err := checkRange("complexityPoints", in.ComplexityPoints, MinComplexityPoints, MaxComplexityPoints); err != nil {
		return err
	}
	if in.Status == "" {
		in.Status = FeatureDraft
	}
	if !in.Status.Valid() {
		return InvalidField("status", "unknown status %q", in.Status)
	}
	return nil
}

// FeatureUpdate changes the fields that are set and leaves the others alone.
type FeatureUpdate struct {
	ID               int64
	Name             *string
	Description      *string
	ComplexityPoints *int
	Status           *FeatureStatus
	// ExpectedVersion, when set, makes the update fail with CodeConflict if
	// someone else changed the feature since the client read it.
	ExpectedVersion *int
}

// Validate trims and checks the input in place.
func (in *FeatureUpdate) Validate() error {
	if err := featureName.checkOptional(in.Name); err != nil {
		return err
	}
	if err := featureDescription.checkOptional(in.Description); err != nil {
		return err
	}
	if in.ComplexityPoints != nil {
		if err := checkRange("complexityPoints", *in.ComplexityPoints, MinComplexityPoints, MaxComplexityPoints); err != nil {
			return err
		}
	}
	if in.Status != nil && !in.Status.Valid() {
		return InvalidField("status", "unknown status %q", *in.Status)
	}
	return checkVersion(in.ExpectedVersion)
}

// FeatureFilter narrows a feature listing. Zero values mean "any".
// It is comparable so that it can be part of a loader key.
type FeatureFilter struct {
	Status        FeatureStatus
	MinComplexity int
	MaxComplexity int
	// Search matches a case-insensitive substring of name or description.
	Search string
}

// Validate checks the filter's bounds.
func (f *FeatureFilter) Validate() error {
	if f.Status != "" && !f.Status.Valid() {
		return InvalidField("filter.status", "unknown status %q", f.Status)
	}
	for _, b := range []struct {
		field string
		v     int
	}{{"filter.minComplexity", f.MinComplexity}, {"filter.maxComplexity", f.MaxComplexity}} {
		if b.v != 0 {
			if err := checkRange(b.field, b.v, MinComplexityPoints, MaxComplexityPoints); err != nil {
				return err
			}
		}
	}
	if f.MinComplexity != 0 && f.MaxComplexity != 0 && f.MinComplexity > f.MaxComplexity {
		return InvalidField("filter.minComplexity", "minComplexity must not exceed maxComplexity")
	}
	var err error
	f.Search, err = textRule{field: "filter.search", max: 255}.check(f.Search)
	return err
}

// FeatureQuery selects one page of features: the root listing.
type FeatureQuery struct {
	Filter FeatureFilter
	Order  Order
	Page   PageArgs
}
